"""The per-process arena state the use cases share: engine, token signer, admin token, match pools.

It holds no request logic; the use cases (matches, votes, leaderboards, studies, export) are plain
functions that take it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from imagearena.arena.board_cache import LeaderboardCache
from imagearena.arena.pool import PoolCache, StudyPool, default_sampler_factory
from imagearena.arena.ratelimit import RateLimiter
from imagearena.arena.tokens import TokenSigner, load_or_create_secret
from imagearena.arena.writer import VoteWriter, write_match_votes
from imagearena.media import MediaStore
from imagearena.settings import Settings
from imagearena.types import Sampler, StudyKind

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from imagearena.arena.live import LiveRounds
    from imagearena.ratings.battles import Battles
    from imagearena.storage.matches import MatchVote


class Arena:
    """Everything one server process keeps between requests."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine | None = None,
        *,
        check_schema: bool = True,
        pool_ttl_s: float = 5.0,
        sampler_factory: Callable[[list[str]], Sampler[Battles]] = default_sampler_factory,
    ) -> None:
        from imagearena.storage.engine import (
            make_engine,
            make_sessionmaker,
            read_engine,
            require_current_schema,
        )

        self.settings = settings
        self.engine = engine or make_engine(settings.database_url)
        self._owns_engine = engine is None
        if check_schema:
            require_current_schema(self.engine)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._session = make_sessionmaker(self.engine)
        self._read_session = make_sessionmaker(read_engine(self.engine))
        key = settings.secret_key or load_or_create_secret(settings.data_dir, "secret_key")
        self.signer = TokenSigner(key.encode(), database_id=self._installation_id().encode())
        self.admin_token = settings.admin_token or load_or_create_secret(settings.data_dir, "admin_token", 24)
        self.sampler_factory = sampler_factory
        self.media_store = MediaStore(settings.media_dir)
        self.pools = PoolCache(self._load_pool, self._pool_version, ttl_s=pool_ttl_s)
        # SQLite has one writer at a time; queueing our own threads here is fairer and faster than
        # letting them meet in SQLite's busy handler, which sleeps in growing steps.
        self.write_lock = threading.Lock() if self.is_sqlite else None
        self.vote_writer = VoteWriter(self._write_votes, threads=1 if self.is_sqlite else 4)
        self.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
        self.boards = LeaderboardCache()
        self._live: LiveRounds | None = None
        self._live_lock = threading.Lock()

    @property
    def live(self) -> LiveRounds:
        """The live rounds being generated in this process (arena.live), made on first use."""
        with self._live_lock:
            if self._live is None:
                from imagearena.arena.live import LiveRounds

                self._live = LiveRounds(self)
            return self._live

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for writes (on SQLite its transactions take the write lock up front)."""
        with self._session() as session:
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for reads that must not queue behind writers."""
        with self._read_session() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A write session, serialized within this process when the database is SQLite."""
        if self.write_lock is None:
            with self.session() as session:
                yield session
        else:
            with self.write_lock, self.session() as session:
                yield session

    def _installation_id(self) -> str:
        from imagearena.storage.installation import installation_id

        with self.session() as session, session.begin():
            return installation_id(session)

    def _write_votes(self, items: Sequence[MatchVote]) -> list[int | Exception]:
        """The vote writer's batch write, its database time bounded by the settings."""
        return write_match_votes(self.writing, items, self.settings.vote_write_timeout_s)

    def _load_pool(self, study: str) -> StudyPool:
        from imagearena.storage.catalog import catalog_version, study_images
        from imagearena.storage.folder_sync import prerank_scores
        from imagearena.storage.studies import get_study
        from imagearena.storage.votes import iter_rounds, iter_votes

        with self.read_session() as session:
            row = get_study(session, study)
            version = catalog_version(session, row.id)
            images = study_images(session, row.id)
            votes = list(iter_votes(session, row.id, row.epoch))
            rounds = list(iter_rounds(session, row.id, row.epoch))
            seed = prerank_scores(session, row.id) if row.kind == StudyKind.FOLDER else {}
        pool = StudyPool(
            study_id=row.id,
            name=row.name,
            epoch=int(version[0]),
            version=version,
            images=images,
            sampler_factory=self.sampler_factory,
            round_type=row.round_type,
        )
        if seed:
            pool.seed_scores(seed)
        if (votes or rounds) and pool.sampler is not None:
            from imagearena.arena.decisions import battles_of

            known = pool.playable_models
            kept_votes = [v for v in votes if v.model_a in known and v.model_b in known]
            kept_rounds = [r for r in rounds if all(m in known for m in r.models)]
            if kept_votes or kept_rounds:
                pool.observe_battles(battles_of(kept_votes, kept_rounds))
        return pool

    def _pool_version(self, study_id: int) -> tuple[float, ...]:
        from imagearena.storage.catalog import catalog_version

        with self.read_session() as session:
            return catalog_version(session, study_id)

    def close(self) -> None:
        if self._live is not None:
            self._live.close()
        self.vote_writer.close()
        if self._owns_engine:
            self.engine.dispose()
