"""Sign-up, login, account, password reset, firm members, admin pages and the auth API."""

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from matchmaker.accounts import policy, service
from matchmaker.accounts.deps import (
    client_ip,
    current_user,
    log_in,
    log_out,
    rate_limit,
    require_role,
    require_user,
    safe_next,
)
from matchmaker.accounts.models import MEMBERSHIP_ROLES, USER_ROLES, User
from matchmaker.accounts.schemas import MembershipOut, TokenOut, TokenRequest, UserOut
from matchmaker.db import get_session
from matchmaker.i18n import current_language
from matchmaker.i18n import gettext as _
from matchmaker.web import flash, redirect, render

router = APIRouter(tags=["pages"], include_in_schema=False)
api_router = APIRouter(tags=["auth"])

SessionDep = Depends(get_session, scope="function")
AdminDep = Depends(require_role("admin"))
UserDep = Depends(require_user)
CurrentUserDep = Depends(current_user)

LOGIN_FAILED = (
    "Wrong email or password. After repeated failures, signing in is paused for 15 minutes."
)


def _role_labels() -> dict[str, str]:
    return {
        "owner": _("Firm owner"),
        "curator": _("Association curator"),
        "facilitator": _("Facilitator"),
        "admin": _("Administrator"),
    }


def _member_role_labels() -> dict[str, str]:
    return {
        "owner": _("Owner"),
        "colleague": _("Colleague"),
        "representative": _("Legal representative"),
    }


def _errors(exc: service.AccountError) -> dict[str, str]:
    return {exc.field or "__all__": _(exc.message)}


def _audit(request: Request, session: Session, user: User, action: str, *,
           object_type: str = "user", object_id: int | str | None = None,
           detail: dict[str, Any] | None = None) -> None:
    """Record what the user did from this request's address (by default, to their own account)."""
    service.audit(session, actor=user, action=action, object_type=object_type,
                  object_id=user.id if object_id is None else object_id, detail=detail,
                  ip=client_ip(request))


# ------------------------------------------------------------------ sign-up, login, logout


def _signed_out_form(request: Request, template: str, next: str, user: User | None) -> Response:
    """Show an empty sign-up or login form, or send a signed-in user on."""
    if user is not None:
        return redirect(safe_next(next, "/account"))
    return render(request, template, {"values": {}, "errors": {}, "next": next})


@router.get("/register")
def register_page(request: Request, next: str = "", user: User | None = CurrentUserDep) -> Response:
    """Show the sign-up form."""
    return _signed_out_form(request, "accounts/register.html", next, user)


@router.post("/register", dependencies=[Depends(rate_limit("register"))])
def register(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    password_confirm: str = Form(""),
    full_name: str = Form(""),
    privacy: str = Form(""),
    next: str = Form(""),
    session: Session = SessionDep,
) -> Response:
    """Create a firm-owner account and sign it in."""
    values = {"email": email, "full_name": full_name}
    errors: dict[str, str] = {}
    if password != password_confirm:
        errors["password_confirm"] = _("The two passwords do not match.")
    if not privacy:
        errors["privacy"] = _("Please confirm you have read the privacy notice.")
    user = None
    if not errors:
        try:
            user = service.create_user(
                session,
                email=email,
                password=password,
                role="owner",
                full_name=full_name,
                language=current_language.get(),
            )
        except service.AccountError as exc:
            errors = _errors(exc)
    if user is None:
        return render(
            request,
            "accounts/register.html",
            {"values": values, "errors": errors, "next": next},
            status_code=422,
        )
    _audit(request, session, user, "user.register")
    log_in(request, user)
    flash(request, _("Welcome! Your account is ready."))
    return redirect(safe_next(next, "/firms/new"))


@router.get("/login")
def login_page(request: Request, next: str = "", user: User | None = CurrentUserDep) -> Response:
    """Show the login form."""
    return _signed_out_form(request, "accounts/login.html", next, user)


@router.post("/login", dependencies=[Depends(rate_limit("login"))])
def login(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    next: str = Form(""),
    session: Session = SessionDep,
) -> Response:
    """Check the credentials and start a session; every failure reads the same."""
    user = service.authenticate(session, email=email, password=password, ip=client_ip(request))
    if user is None:
        return render(
            request,
            "accounts/login.html",
            {"values": {"email": email}, "errors": {"__all__": _(LOGIN_FAILED)}, "next": next},
            status_code=422,
        )
    log_in(request, user)
    _audit(request, session, user, "user.login")
    return redirect(safe_next(next, "/firms"))


@router.post("/logout")
def logout(request: Request) -> Response:
    """End the session."""
    log_out(request)
    flash(request, _("You have logged out."))
    return redirect("/")


# ------------------------------------------------------------------ password reset


@router.get("/password-reset")
def password_reset_page(request: Request, sent: int = 0) -> Response:
    """Ask for the email of the account to reset."""
    return render(
        request, "accounts/password_reset.html", {"values": {}, "errors": {}, "sent": bool(sent)}
    )


@router.post("/password-reset", dependencies=[Depends(rate_limit("password_reset"))])
def password_reset_request(
    request: Request, email: str = Form(""), session: Session = SessionDep
) -> Response:
    """Issue a reset link if the account exists; answer the same either way."""
    service.request_password_reset(session, email=email, ip=client_ip(request))
    return redirect("/password-reset?sent=1")


@router.get("/password-reset/confirm")
def password_reset_confirm_page(
    request: Request, token: str = "", session: Session = SessionDep
) -> Response:
    """Show the new-password form for a valid reset link."""
    valid = bool(token) and service.reset_token_is_valid(session, token=token)
    return render(
        request,
        "accounts/password_reset_confirm.html",
        {"token": token, "valid": valid, "errors": {}},
        status_code=200 if valid else 400,
    )


@router.post("/password-reset/confirm", dependencies=[Depends(rate_limit("password_reset"))])
def password_reset_confirm(
    request: Request,
    token: str = Form(""),
    password: str = Form(""),
    password_confirm: str = Form(""),
    session: Session = SessionDep,
) -> Response:
    """Set the new password and send the user to the login page."""
    if password != password_confirm:
        valid = service.reset_token_is_valid(session, token=token)
        return render(
            request,
            "accounts/password_reset_confirm.html",
            {
                "token": token,
                "valid": valid,
                "errors": {"password_confirm": _("The two passwords do not match.")},
            },
            status_code=422,
        )
    try:
        service.reset_password(session, token=token, password=password, ip=client_ip(request))
    except service.AccountError as exc:
        valid = service.reset_token_is_valid(session, token=token)
        return render(
            request,
            "accounts/password_reset_confirm.html",
            {"token": token, "valid": valid, "errors": _errors(exc)},
            status_code=422,
        )
    log_out(request)
    flash(request, _("Your password has been changed. You can log in now."))
    return redirect("/login")


# ------------------------------------------------------------------ my account


def _account_context(session: Session, user: User, **extra: Any) -> dict[str, Any]:
    from matchmaker.firms.models import Firm

    memberships = service.memberships_for(session, user)
    firms = []
    for firm_id, role in sorted(memberships.items()):
        firm = session.get(Firm, firm_id)
        if firm is not None:
            firms.append({"firm": firm, "role": role})
    values = {"full_name": user.full_name, "language": user.language}
    return {
        "values": values,
        "errors": {},
        "firms": firms,
        "tokens": service.list_api_tokens(session, user=user),
        "new_token": None,
        "role_labels": _role_labels(),
        "member_role_labels": _member_role_labels(),
        "languages": [("it", "Italiano"), ("en", "English")],
        **extra,
    }


def _account_errors(request: Request, session: Session, user: User, errors: dict[str, str],
                    **extra: Any) -> Response:
    """Show the account page again with a form's errors (422)."""
    ctx = _account_context(session, user, errors=errors, **extra)
    return render(request, "accounts/account.html", ctx, status_code=422)


@router.get("/account")
def account_page(request: Request, session: Session = SessionDep, user: User = UserDep) -> Response:
    """Show the profile, language, API tokens, data export and account deletion."""
    return render(request, "accounts/account.html", _account_context(session, user))


@router.post("/account")
def account_update(
    request: Request,
    full_name: str = Form(""),
    language: str = Form("it"),
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response:
    """Save the name and the preferred language."""
    try:
        service.update_profile(session, user=user, full_name=full_name, language=language)
    except service.AccountError as exc:
        return _account_errors(request, session, user, _errors(exc),
                               values={"full_name": full_name, "language": language})
    request.session["lang"] = user.language
    flash(request, _("Profile saved."))
    return redirect("/account")


@router.post("/account/password")
def account_password(
    request: Request,
    current_password: str = Form(""),
    new_password: str = Form(""),
    new_password_confirm: str = Form(""),
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response:
    """Change the password; other sessions and API tokens stop working."""
    errors: dict[str, str] = {}
    if new_password != new_password_confirm:
        errors["new_password_confirm"] = _("The two passwords do not match.")
    else:
        try:
            service.change_password(
                session,
                user=user,
                current=current_password,
                new=new_password,
                ip=client_ip(request),
            )
        except service.AccountError as exc:
            errors = {
                ("new_password" if exc.field == "password" else exc.field or "__all__"): _(
                    exc.message
                )
            }
    if errors:
        return _account_errors(request, session, user, errors)
    log_in(request, user)
    flash(request, _("Password changed."))
    return redirect("/account")


@router.post("/account/tokens")
def account_token_create(
    request: Request,
    name: str = Form(""),
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response:
    """Create a named API token and show it once."""
    plain, _record = service.issue_api_token(
        session, user=user, name=name or _("API token"), ttl=service.NAMED_TOKEN_TTL
    )
    _audit(request, session, user, "token.create", detail={"name": _record.name})
    ctx = _account_context(session, user, new_token=plain)
    return render(request, "accounts/account.html", ctx, block="tokens")


@router.post("/account/tokens/{token_id}/revoke")
def account_token_revoke(
    request: Request,
    token_id: int,
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response:
    """Revoke one of my API tokens."""
    if not service.revoke_api_token(session, user=user, token_id=token_id):
        raise HTTPException(404, _("No such token"))
    _audit(request, session, user, "token.revoke", detail={"token_id": token_id})
    flash(request, _("Token revoked."))
    return redirect("/account")


@router.get("/account/export.json")
def account_export(session: Session = SessionDep, user: User = UserDep) -> Response:
    """Download everything the platform holds about me, as JSON."""
    data = service.export_user_data(session, user=user)
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2, default=str),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="matchmaker-my-data.json"'},
    )


@router.post("/account/delete")
def account_delete(
    request: Request,
    password: str = Form(""),
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response:
    """Delete my account after checking the password."""
    from matchmaker.accounts import security

    errors: dict[str, str] = {}
    if not security.verify_password(password, user.password_hash):
        errors["delete_password"] = _("The password is not correct.")
    else:
        try:
            service.delete_account(session, user=user, ip=client_ip(request))
        except service.AccountError as exc:
            errors["delete_password"] = _(exc.message)
    if errors:
        return _account_errors(request, session, user, errors)
    log_out(request)
    flash(request, _("Your account has been deleted."))
    return redirect("/")


@router.get("/account/activity")
def account_activity(
    request: Request,
    page: int = Query(1, ge=1, le=100_000),
    action: str = "",
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response:
    """List the events about my account and the firms I own."""
    if not policy.can_view_own_audit(user):
        raise HTTPException(403, _("Not allowed"))
    result = service.audit_events(session, viewer=user, page=page, action=action)
    filters = {"action": action} if action else {}
    return render(
        request,
        "accounts/audit.html",
        {
            "page": result,
            "filters": filters,
            "admin_view": False,
            "base_url": "/account/activity",
        },
        block="results",
    )


# ------------------------------------------------------------------ firm members


def _firm_for_members(session: Session, user: User, piva: str) -> Any:
    from matchmaker.firms import service as firms_service

    firm = firms_service.get_firm(session, piva)
    memberships = service.memberships_for(session, user)
    if firm is None or not policy.can_view_firm(
        user, firm, memberships=memberships, session=session
    ):
        raise HTTPException(404, _("No firm with partita IVA %(piva)s") % {"piva": piva})
    if not policy.can_view_firm_members(user, firm, memberships=memberships):
        raise HTTPException(403, _("Only the firm's people can see its members"))
    return firm, memberships


def _members_page(
    request: Request,
    session: Session,
    user: User,
    firm: Any,
    memberships: dict[int, str],
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "accounts/firm_members.html",
        {
            "firm": firm,
            "members": service.firm_member_users(session, firm.id),
            "can_manage": policy.can_manage_firm_members(user, firm, memberships=memberships),
            "roles": [(r, _member_role_labels()[r]) for r in MEMBERSHIP_ROLES],
            "member_role_labels": _member_role_labels(),
            "values": values or {"role": "colleague"},
            "errors": errors or {},
        },
        block="members",
        status_code=status_code,
    )


@router.get("/firms/{piva}/members")
def firm_members_page(
    request: Request,
    piva: str,
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response:
    """Show who works on the firm's profile and, for owners, the form to add someone."""
    firm, memberships = _firm_for_members(session, user, piva)
    return _members_page(request, session, user, firm, memberships)


@router.post("/firms/{piva}/members")
def firm_members_add(
    request: Request,
    piva: str,
    email: str = Form(""),
    role: str = Form("colleague"),
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response:
    """Add a colleague (who already has an account) to the firm, or change their role."""
    firm, memberships = _firm_for_members(session, user, piva)
    if not policy.can_manage_firm_members(user, firm, memberships=memberships):
        raise HTTPException(403, _("Only the firm's owners can add people"))
    values = {"email": email, "role": role}
    member = service.get_user_by_email(session, email) if email.strip() else None
    if member is None or not member.is_active:
        errors = {
            "email": _(
                "There is no account with this email. Ask your colleague to sign "
                "up first, then add them here."
            )
        }
        return _members_page(
            request, session, user, firm, memberships, values=values, errors=errors, status_code=422
        )
    if role not in MEMBERSHIP_ROLES:
        return _members_page(
            request,
            session,
            user,
            firm,
            memberships,
            values=values,
            errors={"role": _("Choose a role.")},
            status_code=422,
        )
    current = service.memberships_for(session, member).get(firm.id)
    if current == "owner" and role != "owner":
        try:
            service.remove_firm_member(session, user_id=member.id, firm_id=firm.id)
        except service.AccountError as exc:
            return _members_page(
                request,
                session,
                user,
                firm,
                memberships,
                values=values,
                errors=_errors(exc),
                status_code=422,
            )
    service.add_firm_member(session, user=member, firm_id=firm.id, role=role)
    _audit(request, session, user, "firm.member_set", object_type="firm", object_id=firm.id,
           detail={"user_id": member.id, "role": role})
    flash(request, _("%(email)s added to the firm.") % {"email": member.email})
    return redirect(f"/firms/{firm.partita_iva}/members")


@router.post("/firms/{piva}/members/{user_id}/remove")
def firm_members_remove(
    request: Request,
    piva: str,
    user_id: int,
    session: Session = SessionDep,
    user: User = UserDep,
) -> Response:
    """Remove someone from the firm (owners; anyone may leave a firm themselves)."""
    firm, memberships = _firm_for_members(session, user, piva)
    if user_id != user.id and not policy.can_manage_firm_members(
        user, firm, memberships=memberships
    ):
        raise HTTPException(403, _("Only the firm's owners can remove people"))
    if user_id not in {u.id for u, _r in service.firm_member_users(session, firm.id)}:
        raise HTTPException(404, _("This person is not a member of the firm"))
    try:
        service.remove_firm_member(session, user_id=user_id, firm_id=firm.id)
    except service.AccountError as exc:
        return _members_page(
            request, session, user, firm, memberships, errors=_errors(exc), status_code=422
        )
    _audit(request, session, user, "firm.member_removed", object_type="firm", object_id=firm.id,
           detail={"user_id": user_id})
    flash(request, _("Member removed."))
    if user_id == user.id:
        return redirect("/account")
    return redirect(f"/firms/{firm.partita_iva}/members")


# ------------------------------------------------------------------ administration


def _target_user(session: Session, user_id: int) -> User:
    target = service.get_user(session, user_id)
    if target is None:
        raise HTTPException(404, _("No such user"))
    return target


@router.get("/admin/users")
def admin_users(
    request: Request,
    q: str = "",
    page: int = Query(1, ge=1, le=100_000),
    session: Session = SessionDep,
    user: User = AdminDep,
) -> Response:
    """List accounts with their role and lock state."""
    if not policy.can_manage_users(user):
        raise HTTPException(403, _("Not allowed"))
    result = service.list_users(session, q=q, page=page)
    return render(
        request,
        "accounts/admin_users.html",
        {
            "page": result,
            "q": q,
            "roles": [(r, _role_labels()[r]) for r in USER_ROLES],
            "role_labels": _role_labels(),
            "is_locked": service.is_locked,
            "reset_link": None,
            "query_string": urlencode({"q": q}) if q else "",
        },
        block="results",
    )


def _admin_change(
    request: Request, session: Session, actor: User, user_id: int, change: Any
) -> Response:
    if not policy.can_manage_users(actor):
        raise HTTPException(403, _("Not allowed"))
    target = _target_user(session, user_id)
    try:
        change(target)
    except service.AccountError as exc:
        flash(request, _(exc.message), "error")
    return redirect("/admin/users?" + urlencode({"q": target.email}))


@router.post("/admin/users/{user_id}/role")
def admin_set_role(
    request: Request,
    user_id: int,
    role: str = Form(""),
    session: Session = SessionDep,
    user: User = AdminDep,
) -> Response:
    """Change a user's platform role."""
    target = _target_user(session, user_id)
    if not policy.can_change_role(user, target, role):
        raise HTTPException(403, _("You cannot change your own role"))

    def change(t: User) -> None:
        service.set_role(session, user=t, role=role, actor=user, ip=client_ip(request))
        flash(request, _("Role of %(email)s changed.") % {"email": t.email})

    return _admin_change(request, session, user, user_id, change)


@router.post("/admin/users/{user_id}/unlock")
def admin_unlock(
    request: Request, user_id: int, session: Session = SessionDep, user: User = AdminDep
) -> Response:
    """Lift a lockout."""

    def change(t: User) -> None:
        service.unlock_user(session, user=t, actor=user, ip=client_ip(request))
        flash(request, _("%(email)s can sign in again.") % {"email": t.email})

    return _admin_change(request, session, user, user_id, change)


@router.post("/admin/users/{user_id}/active")
def admin_set_active(
    request: Request,
    user_id: int,
    active: str = Form(""),
    session: Session = SessionDep,
    user: User = AdminDep,
) -> Response:
    """Enable or disable an account."""
    if user_id == user.id:
        raise HTTPException(403, _("You cannot disable your own account"))

    def change(t: User) -> None:
        service.set_active(session, user=t, active=active == "1", actor=user, ip=client_ip(request))
        flash(request, _("Account of %(email)s updated.") % {"email": t.email})

    return _admin_change(request, session, user, user_id, change)


@router.post("/admin/users/{user_id}/reset-link")
def admin_reset_link(
    request: Request, user_id: int, session: Session = SessionDep, user: User = AdminDep
) -> Response:
    """Issue a password-reset link for a user and show it once, to pass on."""
    if not policy.can_manage_users(user):
        raise HTTPException(403, _("Not allowed"))
    target = _target_user(session, user_id)
    token = service.issue_reset_token(session, user=target)
    _audit(request, session, user, "user.reset_link_issued", object_id=target.id)
    link = (
        str(request.base_url).rstrip("/") + "/password-reset/confirm?" + urlencode({"token": token})
    )
    result = service.list_users(session, q=target.email)
    return render(
        request,
        "accounts/admin_users.html",
        {
            "page": result,
            "q": target.email,
            "roles": [(r, _role_labels()[r]) for r in USER_ROLES],
            "role_labels": _role_labels(),
            "is_locked": service.is_locked,
            "reset_link": {"email": target.email, "url": link},
            "query_string": urlencode({"q": target.email}),
        },
    )


@router.get("/admin/audit")
def admin_audit(
    request: Request,
    page: int = Query(1, ge=1, le=100_000),
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    actor: str = "",
    session: Session = SessionDep,
    user: User = AdminDep,
) -> Response:
    """Browse the whole audit log with filters and paging."""
    if not policy.can_view_audit(user):
        raise HTTPException(403, _("Not allowed"))
    result = service.audit_events(
        session,
        viewer=user,
        page=page,
        action=action,
        object_type=object_type,
        object_id=object_id,
        actor=actor,
        everything=True,
    )
    filters = {
        k: v
        for k, v in {
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "actor": actor,
        }.items()
        if v
    }
    return render(
        request,
        "accounts/audit.html",
        {
            "page": result,
            "filters": filters,
            "admin_view": True,
            "base_url": "/admin/audit",
        },
        block="results",
    )


# ------------------------------------------------------------------ privacy notice


@router.get("/privacy")
def privacy(request: Request) -> Response:
    """Show the privacy notice."""
    return render(request, "accounts/privacy.html")


# ------------------------------------------------------------------ JSON API


@api_router.post(
    "/auth/token",
    response_model=TokenOut,
    dependencies=[Depends(rate_limit("token"))],
    responses={401: {"description": "Wrong credentials"}, 429: {"description": "Too many tries"}},
)
def api_token(
    request: Request, body: TokenRequest, session: Session = SessionDep
) -> Response | TokenOut:
    """Exchange email and password for a bearer token (valid 30 days)."""
    user = service.authenticate(
        session, email=body.email, password=body.password, ip=client_ip(request)
    )
    if user is None:
        return JSONResponse(
            {"detail": "Incorrect email or password"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    plain, record = service.issue_api_token(session, user=user, name="API login")
    _audit(request, session, user, "token.create", detail={"name": record.name})
    return TokenOut(access_token=plain, expires_at=record.expires_at)


@api_router.delete(
    "/auth/token", status_code=204, responses={401: {"description": "Not authenticated"}}
)
def api_token_revoke(
    request: Request, session: Session = SessionDep, user: User = UserDep
) -> Response:
    """Revoke the bearer token this request carries."""
    scheme, _sep, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        service.revoke_token_value(session, token=token.strip())
    return Response(status_code=204)


@api_router.get(
    "/me", response_model=UserOut, responses={401: {"description": "Not authenticated"}}
)
def api_me(session: Session = SessionDep, user: User = UserDep) -> UserOut:
    """Return the signed-in user and their firms."""
    return UserOut(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        role=user.role,
        language=user.language,
        firms=[
            MembershipOut(firm_id=f, role=r)
            for f, r in service.memberships_for(session, user).items()
        ],
    )
