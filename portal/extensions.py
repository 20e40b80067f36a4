"""Extensions created once, bound to the application in `create_app`."""

from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mailman import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm.exc import StaleDataError

# Named constraints: Alembic's batch mode on SQLite needs names to alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Session(FlaskSession):
    """A concurrent edit found at flush (a version column that no longer matches) is
    `portal.errors.Stale`, wherever the flush happens (a service, an autoflush, the edge's
    commit). After any failed flush (a concurrent edit, a unique reference saved meanwhile)
    the session is rolled back at once, so that the answer can read the data as saved by
    the other user, without a route having to roll back."""

    #: The error a concurrent edit becomes: `portal.errors` registers its `Stale` here
    #: (it imports this module, so this module cannot import it).
    stale_error: type[Exception] = StaleDataError
    _committing = False

    def commit(self) -> None:
        self._committing = True
        try:
            super().commit()
        finally:
            self._committing = False

    def flush(self, objects=None) -> None:
        try:
            super().flush(objects)
        except Exception as error:
            # A failed flush leaves nothing usable but a rollback (which a failed commit
            # does by itself).
            if not self._committing:
                self.rollback()
            if isinstance(error, StaleDataError):
                raise self.stale_error() from error
            raise


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = HTMX()
mail = Mail()
talisman = Talisman()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
