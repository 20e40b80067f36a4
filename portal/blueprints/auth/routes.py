"""Routes of the authentication pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_limiter import RequestLimit
from flask_limiter.util import get_remote_address
from flask_login import current_user
from werkzeug.wrappers import Response

from portal import audit
from portal.access import ALL_ROLES, roles_required
from portal.blueprints.auth import bp, services
from portal.blueprints.auth.api_tokens import panel_context
from portal.blueprints.auth.forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    LoginForm,
    NewPasswordForm,
)
from portal.blueprints.auth.sessions import end_session, start_session
from portal.extensions import limiter
from portal.models import TokenPurpose
from portal.passwords import password_problems, verify_password
from portal.rendering import render_page
from portal.submissions import keyless

LOGIN_FAILED = "Adresse électronique ou mot de passe incorrect."


def _account_key() -> str:
    """Failures are counted per account *and* address: whoever tries an account's password
    from one address never locks its owner out of another (the per-address limit still
    stops one address trying many accounts)."""
    email = services.normalize_email(request.form.get("email", ""))
    return f"compte:{email}|{get_remote_address()}"


def _login_failed(response: Response) -> bool:
    return bool(g.get("login_failed"))


def _on_throttle(limit: RequestLimit) -> None:
    audit.record_refusal(
        "auth.login_throttled",
        actor_label=services.normalize_email(request.form.get("email", ""))[:254] or "(vide)",
        details={"limit": str(limit.limit), "key": limit.key.split("/")[-1][:80]},
    )


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never another host (open redirect)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and "\\" not in target:
            return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"],
    key_func=get_remote_address,
    methods=["POST"],
    deduct_when=_login_failed,
    on_breach=_on_throttle,
    scope="login-address",
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_login_failed,
    on_breach=_on_throttle,
    scope="login-account",
)
def login() -> Response | str:
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            start_session(user)
            flash(f"Bonjour {user.full_name}.", "success")
            return redirect(_safe_next(request.args.get("next")), code=303)
        g.login_failed = True
        form.password.errors.append(LOGIN_FAILED)
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@roles_required(*ALL_ROLES)
def logout() -> Response:
    services.record_logout(current_user._get_current_object())
    end_session()
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("auth.login"), code=303)


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> Response | tuple[str, int] | str:
    return _set_password_page(token, TokenPurpose.INVITATION)


@bp.route("/mot-de-passe/nouveau/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Response | tuple[str, int] | str:
    return _set_password_page(token, TokenPurpose.PASSWORD_RESET)


def _set_password_page(token: str, purpose: TokenPurpose) -> Response | tuple[str, int] | str:
    row = services.resolve_token(token, purpose)
    if row is None:
        return render_template("auth/link_invalid.html", purpose=purpose), 410
    form = NewPasswordForm(email=row.user.email)
    if form.validate_on_submit():
        user = services.set_password_from_token(row, form.password.data)
        if current_user.is_authenticated:
            end_session()
        start_session(user)
        flash("Votre mot de passe est enregistré. Vous êtes connecté.", "success")
        return redirect(url_for("home.index"), code=303)
    return render_template("auth/set_password.html", form=form, user=row.user, purpose=purpose)


@bp.route("/mot-de-passe/oublie", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"], scope="password-reset")
def forgot_password() -> Response | str:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        flash(
            "Si un compte actif correspond à cette adresse, un lien de réinitialisation "
            "vient d'y être envoyé.",
            "info",
        )
        return redirect(url_for("auth.login"), code=303)
    return render_template("auth/forgot_password.html", form=form)


@bp.post("/mot-de-passe/verifier")
@keyless  # reads the form, changes nothing
def check_password() -> Response:
    """Inline validation of a new password while it is typed (HTMX)."""
    problems = password_problems(request.form.get("password", ""))
    return render_page("auth/_password_feedback.html", problems=problems)


@bp.route("/compte", methods=["GET", "POST"])
@roles_required(*ALL_ROLES)
def account() -> Response | str:
    user = current_user._get_current_object()
    form = ChangePasswordForm(email=user.email)
    if form.validate_on_submit():
        if not verify_password(user.password_hash, form.current_password.data):
            form.current_password.errors.append("Mot de passe actuel incorrect.")
        else:
            services.change_password(user, form.password.data)
            start_session(user)  # the other sessions end; this one goes on, rotated
            flash("Mot de passe modifié. Vos autres sessions sont fermées.", "success")
            return redirect(url_for("auth.account"), code=303)
    return render_template("auth/account.html", form=form, user=user, **panel_context(user))
