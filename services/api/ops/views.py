"""The /ops pages: dashboard, dead letters, supplier approvals, CSV export, the file outbox."""

from __future__ import annotations

import csv
import email
import io
from email import policy

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from partnermatch.services.api.ops.auth import (
    check_login,
    current_actor,
    current_user,
    end_session,
    ops_required,
    people_only,
    start_session,
)
from partnermatch.services.api.ops.charts import chart
from partnermatch.services.api.ops.queues import read as read_queues
from partnermatch.services.api.runtime import runtime
from partnermatch.shared.db.engine import transaction
from partnermatch.shared.db.models import DeadLetter, MatchRun, NeedRecommendations, Profile
from partnermatch.shared.email.senders import file_name
from partnermatch.shared.operations import figures as ops
from partnermatch.shared.operations import repair
from partnermatch.shared.reference.addresses import UNVERIFIED

bp = Blueprint("ops", __name__, url_prefix="/ops", template_folder="templates")
bp.add_app_template_filter(chart, "chart")
CSV_COLUMNS = ("generated_at", "match_run_id", "profile_id", "service_area", "rank",
               "partner_name", "partner_kind", "partner_gss_code", "score", "reasons")


def snapshot() -> dict:
    """Read every figure once: database, Redis and workers."""
    rt = runtime()
    with rt.read_sessions() as db:  # never waits for, nor holds up, a writer
        figures = ops.figures(db)
    publisher = rt.publisher
    queues = read_queues(rt.settings.REDIS_URL, publisher.celery if publisher else None)
    raised = ops.alerts(figures, rt.settings.ALERT_OUTBOX_LAG_SECONDS,
                        rt.settings.ALERT_DEAD_LETTERS)
    return {"figures": figures, "queues": queues, "alerts": raised}


@bp.get("")
@ops_required
def dashboard():
    """Show the dashboard; it refreshes itself."""
    with runtime().read_sessions() as db:
        letters = db.scalars(select(DeadLetter).where(DeadLetter.resolved_at.is_(None))
                             .order_by(DeadLetter.created_at.desc()).limit(50)).all()
        suppliers = db.scalars(select(Profile).where(
            Profile.kind == "supplier", Profile.approved.is_(False))
            .order_by(Profile.created_at)).all()
        addresses = db.scalars(select(Profile).where(Profile.address_status == UNVERIFIED)
                               .order_by(Profile.created_at).limit(200)).all()
    return render_template("ops/dashboard.html", **snapshot(), letters=letters,
                           suppliers=suppliers, addresses=addresses, actor=current_actor())


@bp.get("/figures.json")
@ops_required
def figures_json():
    """The dashboard's figures for scripts."""
    current = snapshot()
    figures, queues = current["figures"], current["queues"]
    return jsonify(
        queue_depths=queues.depths, unacked=queues.unacked, workers_online=queues.workers_online,
        workers_busy=queues.workers_busy, outbox_lag_seconds=figures.outbox_lag_seconds,
        outbox_unconsumed=figures.outbox_unconsumed, dead_letters=figures.dead_letters,
        deliveries=figures.deliveries, feedback=figures.feedback,
        suppliers_awaiting_approval=figures.suppliers_awaiting_approval,
        matches_last_hour=figures.matches_last_hour,
        latency_p50_seconds=figures.latency_p50_seconds,
        latency_p95_seconds=figures.latency_p95_seconds,
        alerts=[a.name for a in current["alerts"]],
    )


@bp.post("/dead-letters/<letter_id>/<action>")
@people_only
def dead_letter(letter_id: str, action: str):
    """Retry or discard a dead letter."""
    if action not in ("retry", "discard"):
        abort(404)
    with transaction(runtime().sessions) as db:
        letter = db.get(DeadLetter, letter_id)
        if letter is None or letter.resolved_at is not None:
            abort(404)
        if action == "retry":
            repair.replay_dead_letter(db, letter, current_user())
        else:
            repair.discard_dead_letter(db, letter, current_user())
    flash(f"Dead letter {'queued again' if action == 'retry' else 'discarded'}.")
    return redirect(url_for("ops.dashboard"), code=303)


@bp.post("/suppliers/<profile_id>/approve")
@people_only
def approve_supplier(profile_id: str):
    """Make a supplier eligible for recommendations."""
    with transaction(runtime().sessions) as db:
        supplier = db.get(Profile, profile_id)
        if supplier is None or supplier.kind != "supplier":
            abort(404)
        repair.approve_supplier(db, supplier, current_user())
    flash("Supplier approved: it can now be recommended.")
    return redirect(url_for("ops.dashboard"), code=303)


@bp.post("/addresses/<profile_id>/<decision>")
@people_only
def review_address(profile_id: str, decision: str):
    """Verify or reject a council address that is not on the council's own domain."""
    if decision not in ("verify", "reject"):
        abort(404)
    with transaction(runtime().sessions) as db:
        profile = db.get(Profile, profile_id)
        if profile is None or not repair.review_address(db, profile, decision == "verify",
                                                        current_user()):
            abort(404)
    flash("Address verified: its contact details may now be shared." if decision == "verify"
          else "Address rejected: the profile is no longer recommended.")
    return redirect(url_for("ops.dashboard"), code=303)


def csv_cell(value: object) -> str:
    """Make a value safe for a spreadsheet: no formulas, no control characters."""
    text = "" if value is None else str(value)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r", "|", "%") else text


@bp.get("/recommendations.csv")
@ops_required
def recommendations_csv():
    """Export every recommendation for audit."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    with runtime().read_sessions() as db:
        rows = db.execute(select(MatchRun, NeedRecommendations).join(
            NeedRecommendations, NeedRecommendations.match_run_id == MatchRun.id)
            .order_by(MatchRun.generated_at, NeedRecommendations.service_area))
        for run, need in rows:
            for rank, rec in enumerate(need.partners, start=1):
                writer.writerow([csv_cell(v) for v in (
                    run.generated_at.isoformat(), run.id, run.profile_id, need.service_area,
                    rank, rec["name"], rec["kind"], rec["gss_code"], f"{rec['score']:.4f}",
                    "; ".join(rec["reasons"]))])
    repair_actor = current_actor()
    with transaction(runtime().sessions) as db:
        repair.audit(db, repair_actor, "recommendations.exported", None)
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=recommendations.csv"})


@bp.get("/emails")
@ops_required
def emails():
    """List the emails the file sender wrote (when SMTP_HOST is unset)."""
    outbox = runtime().settings.outbox_dir
    files = sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)
    listing = []
    for path in files[:200]:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        listing.append({"name": path.name, "subject": message["Subject"], "to": message["To"],
                        "date": message["Date"]})
    return render_template("ops/emails.html", emails=listing, actor=current_actor())


@bp.get("/emails/<name>")
@ops_required
def email_file(name: str):
    """Show one email's plain-text part."""
    path = runtime().settings.outbox_dir / name
    if file_name(name.removesuffix(".eml")) + ".eml" != name or not path.is_file():
        abort(404)
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    body = message.get_body(preferencelist=("plain",))
    return Response(body.get_content() if body else "", mimetype="text/plain")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log an ops user in."""
    error = None
    if request.method == "POST":
        name = request.form.get("name", "")[:80]
        if check_login(name, request.form.get("password", "")[:200]):
            start_session(name)
            with transaction(runtime().sessions) as db:
                repair.audit(db, name, "ops.login", None)
            return redirect(url_for("ops.dashboard"), code=303)
        error = "The name or password is not right."
    return render_template("ops/login.html", error=error), 401 if error else 200


@bp.post("/logout")
def logout():
    """Log out: the session ends on the server too, so a copy of the cookie is useless."""
    end_session()
    return redirect(url_for("ops.login"), code=303)
