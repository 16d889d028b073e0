from arena_fixtures import admin_headers, arena, arena_settings, client, seeded  # noqa: F401
