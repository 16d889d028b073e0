"""The study page and the leaderboard page name the prompt set attached to the study and its prompt
count, escaped; the API's study detail names it as stored."""

from __future__ import annotations

from markupsafe import escape

from imagearena.arena.prompt_sets import attach_prompt_set, detach_prompt_set, import_prompt_set
from imagearena.arena.studies import create_study
from imagearena.prompts.loaders import Prompt, PromptSet

NAME = """<b>sky</b> & "night" 'set'"""


def test_pages_show_the_attached_set_escaped(make_arena, make_client):
    arena = make_arena()
    texts = ("a purple moon", "an orange kite", "a grey whale")
    prompt_set = PromptSet("sky", "sky.txt", tuple(Prompt(t, {}) for t in texts), "0" * 64)
    import_prompt_set(arena.settings, prompt_set, NAME)
    create_study(arena, "s-pages")
    client = make_client(arena)
    pages = ("/studies/s-pages", "/leaderboard/s-pages")
    for page in pages:
        assert 'id="prompt-set"' not in client.get(page).text  # nothing attached yet

    attach_prompt_set(arena.settings, "s-pages", NAME)
    shown = f"Prompt set: <code>{escape(NAME)}</code> (3 prompts)."
    assert str(escape(NAME)) == "&lt;b&gt;sky&lt;/b&gt; &amp; &#34;night&#34; &#39;set&#39;"
    for page in pages:
        html = client.get(page)
        assert html.status_code == 200
        assert shown in html.text, page
        assert NAME not in html.text and "<b>sky</b>" not in html.text
    assert client.get("/api/v1/studies/s-pages").json()["prompt_set"] == NAME

    detach_prompt_set(arena.settings, "s-pages")
    for page in pages:
        assert 'id="prompt-set"' not in client.get(page).text
    assert client.get("/api/v1/studies/s-pages").json()["prompt_set"] is None
