"""The :class:`Store`: an engine, short transactions, and the trace of every write.

Rules for callers: keep a session short; never call the bus, the driver or the clock's
``sleep`` inside one (on SQLite all sessions share one lock).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Float, create_engine, event, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from testbed.store.base import Base, TimestampMixin
from testbed.trace import Tracer

__all__ = ["Store", "Transaction", "core"]


@compiles(Float, "mysql")
@compiles(Float, "mariadb")
def _double_on_mysql(type_: Float[Any], compiler: Any, **kw: Any) -> str:
    """MySQL's FLOAT is single precision: clock seconds since the epoch would be off by
    minutes.  Every ``Float`` column is a DOUBLE there (as it is on PostgreSQL)."""
    if type_.precision is None:
        return "DOUBLE"
    rendered: str = compiler.visit_float(type_, **kw)
    return rendered


Transaction = Session | Connection
"""An open transaction as helpers take it: an ORM :class:`Session` from
:meth:`Store.session`, or a Core :class:`Connection` from :meth:`Store.transaction`."""


def core(tx: Transaction) -> Connection:
    """The transaction's connection, for Core statements.  A session's pending objects are
    written first, so the statements see them."""
    if isinstance(tx, Session):
        tx.flush()
        return tx.connection()
    return tx


class Store:
    """State in a SQL database.  ``url`` is any SQLAlchemy URL; ``sqlite://`` is in memory."""

    def __init__(
        self, url: str = "sqlite://", *, now: Callable[[], float], tracer: Tracer | None = None
    ) -> None:
        self.url = url
        self._now = now
        self._tracer = tracer
        self.engine = self._make_engine(url)
        self._lock: contextlib.AbstractContextManager[Any]
        # SQLite allows one writer at a time, so its sessions take turns under one lock, on
        # one connection held for the store's life: checking a connection out of the pool
        # and back in (with its reset) cost more than a short transaction itself.
        # Connections know their store (see :meth:`of`).
        event.listen(self.engine, "connect", self._own_connection)
        self._connection: Connection | None = None
        bind: Engine | Connection = self.engine
        if url.startswith("sqlite"):
            self._lock = threading.RLock()
            self._connection = bind = self.engine.connect()
        else:
            self._lock = contextlib.nullcontext()
        self._sessions = sessionmaker(bind, expire_on_commit=False, info={"store": self})
        event.listen(self._sessions, "before_flush", self._before_flush)

    @staticmethod
    def _make_engine(url: str) -> Engine:
        if url.startswith("sqlite"):
            engine = create_engine(
                url,
                connect_args={"check_same_thread": False},
                poolclass=StaticPool if url in ("sqlite://", "sqlite:///:memory:") else None,
            )

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                cursor = dbapi_conn.cursor()
                cursor.execute("PRAGMA foreign_keys=ON")
                if url not in ("sqlite://", "sqlite:///:memory:"):
                    cursor.execute("PRAGMA journal_mode=WAL")
                cursor.close()

            return engine
        options: dict[str, Any] = {
            "pool_pre_ping": True,  # a server restart or idle timeout dropped connections
            "pool_size": 10,
            "max_overflow": 40,
            "pool_recycle": 3600,  # below MySQL's wait_timeout
        }
        if url.startswith(("mysql", "mariadb")):
            # PostgreSQL's default, so both servers show a session the same data.
            options["isolation_level"] = "READ COMMITTED"
        engine = create_engine(url, **options)
        if engine.dialect.name in ("mysql", "mariadb"):

            @event.listens_for(engine, "connect")
            def _strict(dbapi_conn: Any, _record: Any) -> None:
                cursor = dbapi_conn.cursor()
                cursor.execute("SET SESSION sql_mode = 'TRADITIONAL'")  # as oslo.db does
                cursor.close()

        return engine

    def create_schema(self) -> None:
        """Create every table (the embedded default; real databases use Alembic)."""
        import testbed.store.models  # noqa: F401 - registers every service's tables

        Base.metadata.create_all(self.engine)

    def drop_schema(self) -> None:
        """Drop every table."""
        import testbed.store.models  # noqa: F401

        Base.metadata.drop_all(self.engine)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back on an exception."""
        with self._lock, self._sessions.begin() as session:
            yield session

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A Core transaction, for hot paths that read and write with Core statements
        only: committed when the block ends, rolled back on an exception.  It costs a
        fraction of a :meth:`session` (no unit of work, no identity map); writes in it
        are traced by the caller (see :meth:`trace_write`)."""
        with self._lock:
            if self._connection is not None:
                with self._connection.begin():
                    yield self._connection
            else:
                with self.engine.begin() as connection:
                    yield connection

    @staticmethod
    def of(tx: Transaction) -> Store:
        """The store a transaction opened by :meth:`session` or :meth:`transaction`
        belongs to (for helpers that write with Core statements and must trace them; see
        :meth:`trace_write`)."""
        store: Store = tx.info["store"]
        return store

    def _own_connection(self, _dbapi_conn: Any, record: Any) -> None:
        record.info["store"] = self

    def close(self) -> None:
        """Release every connection (on SQLite, once no session is open: a worker thread
        still finishing a transaction must not see its connection closed under it)."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
            self.engine.dispose()

    # -- trace and timestamps -------------------------------------------------------------
    def _before_flush(self, session: Session, _ctx: Any, _instances: Any) -> None:
        now = self._now()
        tracing = self._tracer is not None and self._tracer.enabled
        for obj in session.new:
            if isinstance(obj, TimestampMixin) and not obj.created_at:
                obj.created_at = now
            if tracing:
                self._trace_write("INSERT", obj, state_changed=True)
        for obj in session.dirty:
            if not session.is_modified(obj):
                continue
            if isinstance(obj, TimestampMixin):
                obj.updated_at = now
            if tracing:
                self._trace_write("UPDATE", obj, state_changed=self._state_changed(obj))
        if tracing:
            for obj in session.deleted:
                self._trace_write("DELETE", obj, state_changed=False)

    @staticmethod
    def _state_changed(obj: Any) -> bool:
        columns = getattr(obj, "__trace_state__", ())
        if not columns:
            return False
        state = inspect(obj)
        return any(state.attrs[c].history.has_changes() for c in columns)

    def _trace_write(self, verb: str, obj: Any, *, state_changed: bool) -> None:
        if self._tracer is None:
            return
        table = getattr(obj, "__tablename__", type(obj).__name__)
        uuid = getattr(obj, "instance_uuid", None) or (
            getattr(obj, "uuid", None) if table == "instances" else None
        )
        columns = getattr(obj, "__trace_state__", ())
        self.trace_write(
            verb,
            table,
            instance_uuid=uuid,
            state={c: getattr(obj, c) for c in columns} if columns and state_changed else None,
        )

    def trace_write(
        self,
        verb: str,
        table: str,
        *,
        instance_uuid: str | None = None,
        state: dict[str, Any] | None = None,
    ) -> None:
        """Record a write in the trace, as the flush does for ORM writes: hot paths that
        write with Core statements call this themselves.  ``state``: the instance's
        state columns after the write, when the write changed one of them."""
        if self._tracer is None or not self._tracer.enabled:
            return
        self._tracer.record_here("db", name=f"{verb} {table}", instance_uuid=instance_uuid)
        if state is not None:
            self._tracer.record_here(
                "state", name="state", instance_uuid=instance_uuid, detail=state
            )
