"""Accounts business rules: users, login and lockout, memberships, tokens, resets, audit, GDPR.

Functions take a `Session` and keyword-only inputs; they `flush()`, never `commit()`.
"""

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from matchmaker.accounts import security
from matchmaker.accounts.models import (
    MEMBERSHIP_ROLES,
    USER_ROLES,
    ApiToken,
    AuditEvent,
    FirmMembership,
    PasswordResetToken,
    User,
)
from matchmaker.db import utcnow

log = logging.getLogger("matchmaker.accounts")

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 256
RESET_TOKEN_TTL = timedelta(hours=1)
LOGIN_TOKEN_TTL = timedelta(days=30)
NAMED_TOKEN_TTL = timedelta(days=365)
LANGUAGES = ("it", "en")


class AccountError(ValueError):
    """A user-facing reason why an account operation was refused; `field` names the input."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def aware(value: datetime | None) -> datetime | None:
    """Return a datetime as timezone-aware UTC (SQLite gives naive datetimes back)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def normalize_email(email: str) -> str:
    """Return the canonical, lowercased form of an email address."""
    return email.strip().lower()


def validate_email(email: str) -> str:
    """Normalize an email and check that it looks like an address; raise AccountError if not."""
    email = normalize_email(email)
    local, _, domain = email.partition("@")
    if (
        not local
        or "." not in domain
        or domain.startswith(".")
        or domain.endswith(".")
        or len(email) > 254
        or any(c.isspace() for c in email)
        or "@" in domain
    ):
        raise AccountError("Enter a valid email address.", "email")
    return email


def validate_password(password: str) -> str:
    """Check the password length rules; raise AccountError if they are not met."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError("Use at least 10 characters.", "password")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise AccountError("Use at most 256 characters.", "password")
    return password


# --- users ---------------------------------------------------------------------------------


def get_user(session: Session, user_id: int) -> User | None:
    """Return a user by id."""
    return session.get(User, user_id)


def get_user_by_email(session: Session, email: str) -> User | None:
    """Return the user with this email (any case), if any."""
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: str,
    full_name: str = "",
    language: str = "it",
) -> User:
    """Create an account; raise AccountError for a bad email, password, role or a taken email."""
    email = validate_email(email)
    validate_password(password)
    if role not in USER_ROLES:
        raise AccountError(f"Unknown role {role!r}.", "role")
    if get_user_by_email(session, email) is not None:
        raise AccountError("This email cannot be used to sign up.", "email")
    user = User(
        email=email,
        password_hash=security.hash_password(password),
        full_name=full_name.strip()[:200],
        role=role,
        language=language if language in LANGUAGES else "it",
        is_active=True,
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    return user


def is_locked(user: User, *, now: datetime | None = None) -> bool:
    """Tell whether the account is locked out after repeated failures."""
    until = aware(user.locked_until)
    return until is not None and until > (now or utcnow())


def authenticate(
    session: Session, *, email: str, password: str, ip: str | None = None
) -> User | None:
    """Return the user if the password is right and the account usable; count failures.

    Every refusal looks the same to the caller: unknown email, wrong password, locked or
    inactive account. The fifth consecutive failure locks the account for 15 minutes.
    """
    user = get_user_by_email(session, email)
    if user is None:
        security.verify_password(password, None)
        log.info("login failed: unknown email from %s", ip)
        return None
    if is_locked(user) or not user.is_active:
        security.verify_password(password, None)
        log.info("login refused: user %s locked or inactive, from %s", user.id, ip)
        return None
    ok, updated_hash = security.verify_and_update(password, user.password_hash)
    if not ok:
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = utcnow() + LOCKOUT
            user.failed_logins = 0
            audit(
                session,
                actor=None,
                action="user.locked",
                object_type="user",
                object_id=user.id,
                detail={"minutes": LOCKOUT.seconds // 60},
                ip=ip,
            )
            log.warning(
                "user %s locked after %s failed logins, last from %s",
                user.id,
                MAX_FAILED_LOGINS,
                ip,
            )
        session.flush()
        return None
    if updated_hash:
        user.password_hash = updated_hash
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    return user


def unlock_user(session: Session, *, user: User, actor: User | None, ip: str | None = None) -> None:
    """Lift a lockout and reset the failure count."""
    user.locked_until = None
    user.failed_logins = 0
    audit(
        session, actor=actor, action="user.unlocked", object_type="user", object_id=user.id, ip=ip
    )
    session.flush()


def set_role(
    session: Session, *, user: User, role: str, actor: User | None, ip: str | None = None
) -> None:
    """Change a user's platform role."""
    if role not in USER_ROLES:
        raise AccountError(f"Unknown role {role!r}.", "role")
    if user.role == "admin" and role != "admin" and count_admins(session) <= 1:
        raise AccountError("The last administrator cannot lose the role.", "role")
    old, user.role = user.role, role
    audit(
        session,
        actor=actor,
        action="user.role_changed",
        object_type="user",
        object_id=user.id,
        detail={"from": old, "to": role},
        ip=ip,
    )
    session.flush()


def set_active(
    session: Session, *, user: User, active: bool, actor: User | None, ip: str | None = None
) -> None:
    """Enable or disable an account; disabling also revokes its API tokens."""
    if not active and user.role == "admin" and count_admins(session) <= 1:
        raise AccountError("The last administrator cannot be disabled.", "role")
    user.is_active = active
    if not active:
        revoke_all_tokens(session, user=user)
    audit(
        session,
        actor=actor,
        action="user.enabled" if active else "user.disabled",
        object_type="user",
        object_id=user.id,
        ip=ip,
    )
    session.flush()


def count_admins(session: Session) -> int:
    """Count active administrators."""
    return (
        session.scalar(
            select(func.count()).select_from(User).where(User.role == "admin", User.is_active)
        )
        or 0
    )


def update_profile(session: Session, *, user: User, full_name: str, language: str) -> None:
    """Change the user's name and preferred language."""
    user.full_name = full_name.strip()[:200]
    if language not in LANGUAGES:
        raise AccountError("Choose Italian or English.", "language")
    user.language = language
    session.flush()


def change_password(
    session: Session, *, user: User, current: str, new: str, ip: str | None = None
) -> None:
    """Change the password after checking the current one; revoke API tokens."""
    if not security.verify_password(current, user.password_hash):
        raise AccountError("The current password is not correct.", "current_password")
    validate_password(new)
    _set_password(session, user=user, password=new)
    audit(
        session,
        actor=user,
        action="user.password_changed",
        object_type="user",
        object_id=user.id,
        ip=ip,
    )


def _set_password(session: Session, *, user: User, password: str) -> None:
    user.password_hash = security.hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    revoke_all_tokens(session, user=user)
    session.flush()


@dataclass
class Page:
    """One page of results with what a pager needs."""

    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """Return the number of pages (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page))


def list_users(session: Session, *, q: str = "", page: int = 1, per_page: int = 50) -> Page:
    """Return a page of users, optionally filtered by email or name."""
    stmt = select(User)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(or_(User.email.like(like), func.lower(User.full_name).like(like)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = max(1, page)
    items = session.scalars(
        stmt.order_by(User.email).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return Page(list(items), page, per_page, total)


# --- firm memberships ----------------------------------------------------------------------


def add_firm_member(session: Session, *, user: User, firm_id: int, role: str) -> FirmMembership:
    """Make a user a member of a firm with a role (or change the role if already a member)."""
    if role not in MEMBERSHIP_ROLES:
        raise AccountError(f"Unknown firm role {role!r}.", "role")
    membership = session.scalar(
        select(FirmMembership).where(
            FirmMembership.user_id == user.id, FirmMembership.firm_id == firm_id
        )
    )
    if membership is None:
        membership = FirmMembership(user_id=user.id, firm_id=firm_id, role=role)
        session.add(membership)
    else:
        membership.role = role
    session.flush()
    return membership


def remove_firm_member(session: Session, *, user_id: int, firm_id: int) -> None:
    """Remove a user from a firm; refuse to remove the firm's last owner."""
    membership = session.scalar(
        select(FirmMembership).where(
            FirmMembership.user_id == user_id, FirmMembership.firm_id == firm_id
        )
    )
    if membership is None:
        return
    if membership.role == "owner":
        owners = session.scalar(
            select(func.count())
            .select_from(FirmMembership)
            .where(FirmMembership.firm_id == firm_id, FirmMembership.role == "owner")
        )
        if (owners or 0) <= 1:
            raise AccountError("A firm needs at least one owner.", "role")
    session.delete(membership)
    session.flush()


def memberships_for(session: Session, user: User | None) -> dict[int, str]:
    """Return the user's firms as firm_id -> membership role (empty for anonymous)."""
    if user is None:
        return {}
    rows = session.execute(
        select(FirmMembership.firm_id, FirmMembership.role).where(FirmMembership.user_id == user.id)
    )
    return {firm_id: role for firm_id, role in rows}


def firm_member_users(session: Session, firm_id: int) -> list[tuple[User, str]]:
    """Return the firm's members and their roles, owners first."""
    order = {"owner": 0, "representative": 1, "colleague": 2}
    rows = session.execute(
        select(User, FirmMembership.role)
        .join(FirmMembership, FirmMembership.user_id == User.id)
        .where(FirmMembership.firm_id == firm_id)
        .order_by(FirmMembership.created_at, User.id)
    ).all()
    return sorted(((u, r) for u, r in rows), key=lambda t: order.get(t[1], 9))


# --- API tokens ----------------------------------------------------------------------------


def issue_api_token(
    session: Session, *, user: User, name: str = "", ttl: timedelta | None = LOGIN_TOKEN_TTL
) -> tuple[str, ApiToken]:
    """Create an API token; return the plain token (shown once) and its stored record."""
    plain = security.new_token()
    record = ApiToken(
        user_id=user.id,
        name=name.strip()[:100],
        token_hash=security.token_digest(plain),
        prefix=plain[:10],
        expires_at=utcnow() + ttl if ttl else None,
    )
    session.add(record)
    session.flush()
    return plain, record


def user_for_token(session: Session, token: str) -> User | None:
    """Return the active user a valid, unexpired, unrevoked API token belongs to."""
    record = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == security.token_digest(token))
    )
    if record is None or record.revoked_at is not None:
        return None
    now = utcnow()
    expires = aware(record.expires_at)
    if expires is not None and expires <= now:
        return None
    user = session.get(User, record.user_id)
    if user is None or not user.is_active:
        return None
    last = aware(record.last_used_at)
    if last is None or now - last > timedelta(minutes=5):
        # Best effort: on SQLite a reading request cannot write once another writer has
        # committed since its first read; a missed touch must not fail the request.
        try:
            with session.begin_nested():
                record.last_used_at = now
        except OperationalError:
            log.info("API token last use not recorded: the database is busy")
    return user


def list_api_tokens(session: Session, *, user: User) -> list[ApiToken]:
    """Return the user's API tokens that are neither revoked nor expired, newest first."""
    now = utcnow()
    tokens = session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ).all()
    return [t for t in tokens if aware(t.expires_at) is None or aware(t.expires_at) > now]


def revoke_api_token(session: Session, *, user: User, token_id: int) -> bool:
    """Revoke one of the user's tokens; return False when there is no such token."""
    record = session.get(ApiToken, token_id)
    if record is None or record.user_id != user.id or record.revoked_at is not None:
        return False
    record.revoked_at = utcnow()
    session.flush()
    return True


def revoke_token_value(session: Session, *, token: str) -> None:
    """Revoke the token with this plain value, if it exists."""
    record = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == security.token_digest(token))
    )
    if record is not None and record.revoked_at is None:
        record.revoked_at = utcnow()
        session.flush()


def revoke_all_tokens(session: Session, *, user: User) -> None:
    """Revoke every API token of a user."""
    for record in session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ):
        record.revoked_at = utcnow()
    session.flush()


# --- password reset ------------------------------------------------------------------------


def request_password_reset(session: Session, *, email: str, ip: str | None = None) -> str | None:
    """Issue a reset token for the email's account and log the link; None if no account.

    There is no mail server: the link goes to the application log, where an administrator
    can pass it on. Callers must answer the same way whether or not an account exists.
    """
    user = get_user_by_email(session, email)
    if user is None or not user.is_active:
        log.info("password reset requested for an unknown or inactive email from %s", ip)
        return None
    token = issue_reset_token(session, user=user)
    log.warning(
        "password reset link for user %s (%s): /password-reset/confirm?token=%s",
        user.id,
        user.email,
        token,
    )
    audit(
        session,
        actor=None,
        action="user.password_reset_requested",
        object_type="user",
        object_id=user.id,
        ip=ip,
    )
    return token


def issue_reset_token(session: Session, *, user: User) -> str:
    """Create a one-hour, single-use reset token for a user; earlier ones stop working."""
    now = utcnow()
    for old in session.scalars(
        select(PasswordResetToken).where(
            PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None)
        )
    ):
        old.used_at = now
    plain = security.new_token("pr_")
    session.add(
        PasswordResetToken(
            user_id=user.id,
            token_hash=security.token_digest(plain),
            expires_at=now + RESET_TOKEN_TTL,
        )
    )
    session.flush()
    return plain


def _valid_reset(session: Session, token: str) -> PasswordResetToken | None:
    record = session.scalar(
        select(PasswordResetToken).where(
            PasswordResetToken.token_hash == security.token_digest(token)
        )
    )
    if record is None or record.used_at is not None:
        return None
    expires = aware(record.expires_at)
    if expires is None or expires <= utcnow():
        return None
    return record


def reset_token_is_valid(session: Session, *, token: str) -> bool:
    """Tell whether a reset token can still be used."""
    return _valid_reset(session, token) is not None


def reset_password(session: Session, *, token: str, password: str, ip: str | None = None) -> User:
    """Set a new password with a reset token; the token is then spent and the lockout lifted."""
    record = _valid_reset(session, token)
    if record is None:
        raise AccountError("This reset link is invalid or has expired.", "token")
    validate_password(password)
    user = session.get(User, record.user_id)
    if user is None:
        raise AccountError("This reset link is invalid or has expired.", "token")
    record.used_at = utcnow()
    _set_password(session, user=user, password=password)
    audit(
        session,
        actor=user,
        action="user.password_reset",
        object_type="user",
        object_id=user.id,
        ip=ip,
    )
    return user


# --- audit log -----------------------------------------------------------------------------


def _firm_id(session: Session, object_id: int | str) -> int | None:
    """Resolve a firm reference (id, or partita IVA as an 11-digit string) to its id."""
    if isinstance(object_id, int):
        return object_id
    if len(object_id) == 11 and object_id.isdigit():
        from matchmaker.firms import service as firms_service

        firm = firms_service.get_firm(session, object_id)
        return firm.id if firm is not None else None
    return int(object_id) if object_id.isdigit() else None


def audit(
    session: Session,
    *,
    actor: User | None,
    action: str,
    object_type: str,
    object_id: int | str,
    detail: dict[str, Any] | str | None = None,
    ip: str | None = None,
    firm_id: int | None = None,
) -> AuditEvent:
    """Record who did what to which object, when and from where.

    `action` is dotted (`firm.update`). For `object_type="firm"` the object id may be the
    firm's id or partita IVA; the event is linked to the firm so its owners can read it.
    """
    if firm_id is None and object_type == "firm":
        firm_id = _firm_id(session, object_id)
    if isinstance(detail, str):
        detail = {"message": detail}
    event = AuditEvent(
        created_at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        actor_label=actor.email if actor is not None else "system",
        action=action[:60],
        object_type=object_type[:30],
        object_id=str(object_id)[:64],
        firm_id=firm_id,
        detail=detail,
        ip=(ip or None) and ip[:45],
    )
    session.add(event)
    session.flush()
    return event


def audit_events(
    session: Session,
    *,
    viewer: User,
    page: int = 1,
    per_page: int = 50,
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    actor: str = "",
    everything: bool = False,
) -> Page:
    """Return a page of audit events, newest first, filtered.

    With `everything` (administrators) all events; otherwise only the viewer's own actions
    and events about firms the viewer owns.
    """
    stmt = select(AuditEvent)
    if not everything:
        owned = [fid for fid, role in memberships_for(session, viewer).items() if role == "owner"]
        stmt = stmt.where(
            or_(
                AuditEvent.actor_id == viewer.id,
                AuditEvent.firm_id.in_(owned) if owned else False,
                (AuditEvent.object_type == "user") & (AuditEvent.object_id == str(viewer.id)),
            )
        )
    if action:
        stmt = stmt.where(AuditEvent.action.like(f"{action.strip()}%"))
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type.strip())
    if object_id:
        stmt = stmt.where(AuditEvent.object_id == object_id.strip())
    if actor:
        stmt = stmt.where(AuditEvent.actor_label.like(f"%{actor.strip().lower()}%"))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = max(1, page)
    items = session.scalars(
        stmt.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return Page(list(items), page, per_page, total)


AUDIT_RETENTION = timedelta(days=365)


@dataclass
class PruneReport:
    """How many old records a prune removed."""

    audit_events: int
    reset_tokens: int
    api_tokens: int


def prune(session: Session, *, older_than: timedelta = AUDIT_RETENTION) -> PruneReport:
    """Delete audit events older than the retention period and dead tokens.

    Dead tokens are reset links that were used or expired and API tokens that were revoked
    or expired, once they are older than a day (kept that long to explain a failed attempt).
    """
    now = utcnow()
    events = session.execute(
        delete(AuditEvent).where(AuditEvent.created_at < now - older_than)
    ).rowcount
    grace = now - timedelta(days=1)
    resets = session.execute(
        delete(PasswordResetToken).where(
            or_(PasswordResetToken.used_at < grace, PasswordResetToken.expires_at < grace)
        )
    ).rowcount
    tokens = session.execute(
        delete(ApiToken).where(or_(ApiToken.revoked_at < grace, ApiToken.expires_at < grace))
    ).rowcount
    session.flush()
    return PruneReport(events or 0, resets or 0, tokens or 0)


# --- personal data: export and erasure ------------------------------------------------------

ExportHook = Callable[[Session, User], Any]
DeleteHook = Callable[[Session, User], None]

_export_hooks: dict[str, ExportHook] = {}
_delete_hooks: list[DeleteHook] = []


def register_export_hook(name: str, hook: ExportHook) -> None:
    """Add a section to the personal-data export: `hook(session, user)` returns JSON data."""
    _export_hooks[name] = hook


def register_delete_hook(hook: DeleteHook) -> None:
    """Run `hook(session, user)` before an account is deleted (e.g. keep signed contracts)."""
    if hook not in _delete_hooks:
        _delete_hooks.append(hook)


def _delete_firm(session: Session, firm_id: int) -> None:
    from matchmaker.firms import service as firms_service
    from matchmaker.firms.models import Firm

    firm = session.get(Firm, firm_id)
    if firm is not None:
        firms_service.delete_firm(session, firm=firm)


def _iso(value: datetime | None) -> str | None:
    value = aware(value)
    return value.isoformat() if value else None


def _memberships_export(session: Session, user: User) -> list[dict[str, Any]]:
    from matchmaker.firms.models import Firm

    out = []
    for firm_id, role in sorted(memberships_for(session, user).items()):
        firm = session.get(Firm, firm_id)
        out.append(
            {
                "firm_id": firm_id,
                "partita_iva": firm.partita_iva if firm else None,
                "name": firm.name if firm else None,
                "role": role,
            }
        )
    return out


def export_user_data(session: Session, *, user: User) -> dict[str, Any]:
    """Return everything the platform holds about the user, as JSON-ready data."""
    tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
    events = session.scalars(
        select(AuditEvent)
        .where(
            or_(
                AuditEvent.actor_id == user.id,
                (AuditEvent.object_type == "user") & (AuditEvent.object_id == str(user.id)),
            )
        )
        .order_by(AuditEvent.created_at)
    ).all()
    data: dict[str, Any] = {
        "exported_at": utcnow().isoformat(),
        "account": {
            "id": user.id,
            "email": user.email,
            "full_name": user.full_name,
            "role": user.role,
            "language": user.language,
            "is_active": user.is_active,
            "created_at": _iso(user.created_at),
            "updated_at": _iso(user.updated_at),
        },
        "firm_memberships": _memberships_export(session, user),
        "api_tokens": [
            {
                "name": t.name,
                "prefix": t.prefix,
                "created_at": _iso(t.created_at),
                "expires_at": _iso(t.expires_at),
                "last_used_at": _iso(t.last_used_at),
                "revoked_at": _iso(t.revoked_at),
            }
            for t in tokens
        ],
        "activity": [
            {
                "at": _iso(e.created_at),
                "action": e.action,
                "object_type": e.object_type,
                "object_id": e.object_id,
                "detail": e.detail,
                "ip": e.ip,
            }
            for e in events
        ],
    }
    for name, hook in _export_hooks.items():
        data[name] = hook(session, user)
    return data


@dataclass
class DeletionReport:
    """What deleting an account did to the firms the user belonged to."""

    deleted_firms: list[int]
    transferred_firms: dict[int, int]


def delete_account(session: Session, *, user: User, ip: str | None = None) -> DeletionReport:
    """Delete an account and what only it held.

    A firm the user solely owns passes to a colleague when it has one (the longest-standing
    member becomes owner), otherwise it is deleted. Registered delete hooks run first, so
    other domains can keep what the law requires (signed contract text) without the person.
    """
    if user.role == "admin" and count_admins(session) <= 1:
        raise AccountError("The last administrator cannot delete the account.", "role")
    report = DeletionReport([], {})
    for hook in _delete_hooks:
        hook(session, user)
    for firm_id, role in memberships_for(session, user).items():
        if role != "owner":
            continue
        others = [(u, r) for u, r in firm_member_users(session, firm_id) if u.id != user.id]
        if any(r == "owner" for _, r in others):
            continue
        if others:
            heir = others[0][0]
            add_firm_member(session, user=heir, firm_id=firm_id, role="owner")
            report.transferred_firms[firm_id] = heir.id
            audit(
                session,
                actor=user,
                action="firm.ownership_transferred",
                object_type="firm",
                object_id=firm_id,
                detail={"to_user": heir.id, "reason": "account deleted"},
                ip=ip,
            )
        else:
            _delete_firm(session, firm_id)
            report.deleted_firms.append(firm_id)
            audit(
                session,
                actor=None,
                action="firm.deleted",
                object_type="firm",
                object_id=firm_id,
                detail={"reason": "sole owner deleted the account"},
                ip=ip,
            )
    user_id = user.id
    # The log keeps the fact, not the person: the email disappears from past events.
    for event in session.scalars(select(AuditEvent).where(AuditEvent.actor_id == user_id)):
        event.actor_label = f"deleted user #{user_id}"
    session.execute(delete(PasswordResetToken).where(PasswordResetToken.user_id == user_id))
    session.execute(delete(ApiToken).where(ApiToken.user_id == user_id))
    session.execute(delete(FirmMembership).where(FirmMembership.user_id == user_id))
    session.delete(user)
    session.flush()
    audit(session, actor=None, action="user.deleted", object_type="user", object_id=user_id, ip=ip)
    return report
