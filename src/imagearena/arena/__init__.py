"""The arena's use cases, without HTTP: serve a match (matches), record a vote (votes, through the
group-commit writer), leaderboards and rating history (leaderboards), studies (create, list, reset,
import), exports (export). ``runtime.Arena`` holds the per-process state they share."""
