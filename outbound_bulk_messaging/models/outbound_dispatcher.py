import logging
import threading
import time

import psycopg2.errors

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL

from odoo.addons.base.models.ir_cron import MAX_BATCH_PER_CRON_JOB

from ..channels import TransportBusy, get_channel
from ..engine import dispatch, render, send_hours
from ..engine.errors import GatewayError, TemplateError

_logger = logging.getLogger(__name__)

# Messages claimed and committed together. A crash can leave at most one such batch with an
# unknown outcome, so it stays small; large enough that a commit per batch costs little.
DISPATCH_BATCH = 100
# Seconds to wait before sending a throttled message again; then it goes back to the queue.
THROTTLE_WAITS = (1, 2, 4)
# pg advisory lock namespaces (first key of the two-int form); the gateways' is in channels.sms.
BATCH_LOCK = 0x0B0A
JOB_LOCK = 0x0B0C
# Seconds to wait when another dispatcher is claiming a batch of the same job.
CLAIM_WAIT = 0.01
# A job whose next window opens within this many seconds of the run's deadline is waited for
# in the run rather than left to the cron's next poll, which may come tens of seconds late.
MAX_WINDOW_WAIT = 30.0
MAX_WINDOW_ROUNDS = 4
# The dispatch cron the addon ships (data/ir_cron_data.xml); its copies are the other dispatchers.
DISPATCH_CRON = "outbound_bulk_messaging.ir_cron_dispatch"
# Settings > Outbound > Dispatchers: how many dispatch crons are kept active.
DISPATCHERS_PARAM = "outbound_bulk_messaging.dispatchers"
# Claims of one job take turns (JOB_LOCK) and an SMS gateway sends from one dispatcher at a
# time, so past a handful of dispatchers more of them wait rather than send; and each one holds
# a cron worker and two database connections for its whole turn. 16 covers 8 servers of 2 cron
# workers, and keeps a typo (160) from filling ir_cron with copies that starve the other crons.
MAX_DISPATCHERS = 16


def commit(cr):
    """Commit ``cr`` outside tests (a test runs in one transaction that must not be committed)."""
    if not getattr(threading.current_thread(), "testing", False):
        # Committed batch by batch on purpose: a claim must be durable before the send, and an
        # outcome as soon as it is known (at most once, nothing lost).
        cr.commit()  # pylint: disable=invalid-commit


class OutboundDispatcher(models.AbstractModel):
    """Sends the due batches of the send jobs: claim, send, record, recover.

    Several dispatchers (cron threads, Odoo servers) may work on one job. They never write the
    job row while claiming: claims are serialised by an advisory lock on the job, the pace is
    counted from the messages' ``claimed_at``, and the few writes of the job row (state, next
    run, error streak) go through ``outbound.send.job._update_job``, which retries when another
    dispatcher wrote it first (Odoo runs transactions in REPEATABLE READ).
    """

    _name = "outbound.dispatcher"
    _description = "Outbound Dispatcher"

    @api.model
    def _run(self):
        """Send what the pace allows now for every due job, within the run's share of the budget.

        While messages remain, Odoo runs the action again at once, up to MAX_BATCH_PER_CRON_JOB
        times in the same turn of the cron worker, and the worker's time limit applies to the
        whole turn: each run gets that share of the budget.
        """
        if self._is_surplus_dispatcher():
            return self._retire_running_dispatcher()
        self._recover_interrupted()
        share = self._get_time_budget() / MAX_BATCH_PER_CRON_JOB
        deadline = time.monotonic() + share
        limiters = {}
        processed = 0
        for _round in range(MAX_WINDOW_ROUNDS):
            for job in self._get_due_jobs():
                processed += self._dispatch_job(job, deadline, limiters)
                if time.monotonic() >= deadline:
                    break
            if not self._wait_for_next_window(deadline):
                break
        remaining = self._count_ready_messages()
        if time.monotonic() >= deadline + share:
            # One send outlasted the run's share (a provider stalling until its timeout): end
            # the worker's turn, the next one starts at the cron's next call.
            remaining = 0
        self.env["ir.cron"]._notify_progress(done=processed, remaining=remaining)
        return processed

    @api.model
    def _get_time_budget(self):
        """Seconds one turn of the cron worker may spend sending (below its time limit)."""
        param = self.env["ir.config_parameter"].sudo().get_param("outbound.dispatch_time_budget")
        return float(param or 60)

    @api.model
    def _get_due_jobs(self):
        now = fields.Datetime.now()
        return self.env["outbound.send.job"].search(
            [("state", "in", ("scheduled", "running")), ("start_at", "<=", now)],
            order="start_at, id",
        )

    @api.model
    def _count_ready_messages(self):
        """Queued messages that could go now (their window has room): the cron's 'remaining',
        from the running counts of the due jobs."""
        self.env.flush_all()
        (remaining,) = self.env["outbound.tally"]._read(
            "message",
            SQL(
                """
                t.state = 'queued' AND t.job_id IN (
                    SELECT j.id FROM outbound_send_job j
                     WHERE j.state IN ('scheduled', 'running') AND j.start_at <= %(now)s
                       AND coalesce(j.next_run_at, j.start_at) <= %(now)s)
                """,
                now=fields.Datetime.now(),
            ),
            [],
            [SQL("coalesce(sum(t.n), 0)::bigint")],
        )[0]
        return remaining

    @api.model
    def _wait_for_next_window(self, deadline):
        """Sleep until the next job window opens when that is before ``deadline``.

        ``ir.cron._trigger(at=…)`` is read only when the cron thread next polls, so a window
        opening during this run would otherwise go out late. Returns whether it waited.
        """
        self.env.flush_all()
        commit(self.env.cr)  # nothing held while sleeping; the next read sees other workers
        self.env.cr.execute(
            SQL(
                """
                SELECT min(next_run_at) FROM outbound_send_job
                 WHERE state IN ('scheduled', 'running') AND next_run_at > %s
                """,
                fields.Datetime.now(),
            )
        )
        next_run = self.env.cr.fetchone()[0]
        if not next_run:
            return False
        wait = (next_run - fields.Datetime.now()).total_seconds()
        if wait > min(MAX_WINDOW_WAIT, deadline - time.monotonic()):
            return False
        time.sleep(max(wait, 0))
        self.env.invalidate_all()
        return fields.Datetime.now() >= next_run  # a frozen clock (tests) never gets there

    # ---- ONE JOB

    @api.model
    def _dispatch_job(self, job, deadline, limiters):
        """Send the job's claimable batches until its window is used up or time runs out."""
        processed, transport, gate = 0, None, None
        try:
            while time.monotonic() < deadline:
                gate = self._refresh_gate(job, gate)
                batch_id, message_ids = self._claim_batch(job, gate)
                if message_ids is None:
                    time.sleep(CLAIM_WAIT)  # another dispatcher is claiming: its turn is short
                    continue
                if not message_ids:
                    break
                try:
                    transport = transport or self._open_transport(job, limiters)
                except (GatewayError, TemplateError) as error:
                    self._release_batch(batch_id, message_ids)
                    job._update_job(pause=str(error))
                    break
                except TransportBusy:
                    self._release_batch(batch_id, message_ids)
                    break
                result = self._send_batch(job, batch_id, message_ids, transport, deadline)
                # Requeued at the deadline, they are claimed (and counted) again later.
                processed += len(message_ids) - result.count(dispatch.QUEUED)
                self._after_batch(job, result)
                if result.pause_reason or result.throttled:
                    break
        finally:
            if transport:
                transport.close()
        job._update_job(finish=True)
        # The run's claims and outcomes, folded into one running count per state (committed:
        # the next run of any dispatcher reads a few rows for this job again).
        self.env["outbound.tally"]._compact("message", SQL("t.job_id = %s", job.id))
        commit(self.env.cr)
        return processed

    @api.model
    def _refresh_gate(self, job, gate):
        """The job's sending-hours gate, decided again only once its answer may have changed:
        one aggregate per job and opening or closing, not one per batch."""
        if not job.send_calendar_id:
            return None
        now = fields.Datetime.now()
        if gate is not None and (gate.until is None or now < gate.until):
            return gate
        try:
            return job._get_send_gate(now)
        except UserError as error:  # the calendar was changed into one without hours
            job._update_job(pause=str(error))
            return send_hours.Gate((), None)

    @api.model
    def _open_transport(self, job, limiters):
        channel = get_channel(job.channel)
        return channel.transport(job, job._compile(), limiters)

    @api.model
    def _after_batch(self, job, result):
        values = {"error_streak": result.streak} if result.streak != job.error_streak else {}
        if values or result.pause_reason:
            job._update_job(values=values, pause=result.pause_reason)
        job._notify_progress()

    # ---- CLAIM

    @api.model
    def _claim_batch(self, job, gate=None):
        """Claim the next batch the pace allows and commit the claim before anything is sent.

        With a sending-hours ``gate`` (``engine.send_hours.Gate``), only messages whose zones
        are all open now are claimed: the others stay queued and do not use the pace.

        Returns ``(batch id, message ids)``: no ids when there is nothing to send now, ``None``
        when another dispatcher is claiming for this job at this very moment.
        """
        cr = self.env.cr
        # A session lock, committed before claiming: the claim's snapshot then sees everything
        # the previous holder committed (a transaction-level lock would be taken after it).
        cr.execute(SQL("SELECT pg_try_advisory_lock(%s, %s)", JOB_LOCK, job.id))
        locked = cr.fetchone()[0]
        commit(cr)
        if not locked:
            return None, None
        try:
            return self._claim_locked_batch(job, gate)
        finally:
            cr.execute(SQL("SELECT pg_advisory_unlock(%s, %s)", JOB_LOCK, job.id))

    @api.model
    def _claim_locked_batch(self, job, gate=None):
        cr = self.env.cr
        job.invalidate_recordset()
        if job.state not in ("scheduled", "running"):
            return None, []
        if gate is not None and not gate.open_values:
            return None, []
        now = fields.Datetime.now()
        count = min(job._window_room(now)[1], DISPATCH_BATCH)
        if not count:
            return None, []
        cr.execute(SQL("SELECT nextval('outbound_message_batch_seq')"))
        batch_id = cr.fetchone()[0]
        # Held by this connection until the batch's outcomes are committed: a dispatcher that
        # dies releases it, which is how recovery tells a dead batch from a live one.
        cr.execute(SQL("SELECT pg_advisory_lock(%s, %s)", BATCH_LOCK, batch_id))
        cr.execute(
            SQL(
                """
                UPDATE outbound_message
                   SET state = 'sending', batch_id = %(batch)s, claimed_at = %(now)s
                 WHERE id IN (%(claimable)s)
                RETURNING id
                """,
                batch=batch_id,
                now=now,
                claimable=self._get_claimable_sql(job, count, gate),
            )
        )
        message_ids = sorted(row[0] for row in cr.fetchall())
        self.env["outbound.message"].invalidate_model(["state", "batch_id", "claimed_at"])
        commit(cr)
        if not message_ids:
            self._unlock_batch(batch_id)
        elif job.state == "scheduled":
            job._update_job(values={"state": "running"})
        return batch_id, message_ids

    @api.model
    def _get_claimable_sql(self, job, count, gate):
        """The ids of the next ``count`` queued messages of ``job`` that may go now, locked."""
        if gate is None or None in gate.open_values:
            hours = SQL("TRUE")
            if gate is not None:
                hours = SQL(
                    "(recipient_tz = ANY(%s) OR recipient_tz IS NULL)",
                    [value for value in gate.open_values if value],
                )
            return SQL(
                """
                SELECT id FROM outbound_message
                 WHERE job_id = %s AND state = 'queued' AND %s
                 ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
                """,
                job.id,
                hours,
                count,
            )
        # One index range scan per open zone value (queued (job, zone, id) index): a filter on
        # the zone over the job's id order would walk every held message queued before the open
        # ones at each claim. Up to ``count`` rows per value are locked, the first ``count`` are
        # claimed; the others are free again at the claim's commit (claims of a job are
        # serialised by its advisory lock, so no other dispatcher is skipping them meanwhile).
        return SQL(
            """
            SELECT c.id FROM unnest(%(zones)s::varchar[]) AS v(tz)
             CROSS JOIN LATERAL (
                   SELECT id FROM outbound_message
                    WHERE job_id = %(job)s AND state = 'queued' AND recipient_tz = v.tz
                    ORDER BY id LIMIT %(count)s FOR UPDATE SKIP LOCKED) AS c
             ORDER BY c.id LIMIT %(count)s
            """,
            zones=list(gate.open_values),
            job=job.id,
            count=count,
        )

    # ---- SEND AND RECORD

    @api.model
    def _send_batch(self, job, batch_id, message_ids, transport, deadline=None):
        started = time.monotonic()
        try:
            result = dispatch.send_batch(
                self._load_batch(job, message_ids),
                transport.send,
                limiter=transport.limiter,
                throttle_waits=THROTTLE_WAITS,
                deadline=deadline,
                max_errors=get_channel(job.channel).max_errors(job),
                streak=job.error_streak,
            )
            self._record(job, result)
            commit(self.env.cr)
        finally:
            self._unlock_batch(batch_id)
        _logger.info(
            "Send job %s: batch %s: %d sent, %d failed, %d requeued in %.2fs",
            job.name,
            batch_id,
            result.count(dispatch.SENT),
            result.count(dispatch.FAILED),
            result.count(dispatch.QUEUED),
            time.monotonic() - started,
        )
        job._log_failed_batch(batch_id, result)
        return result

    @api.model
    def _load_batch(self, job, message_ids):
        """(message id, payload) pairs: the address and the plain data the template sees."""
        self.env.cr.execute(
            SQL(
                """
                SELECT m.id, m.address, m.account_id, a.reference, a.name, a.email,
                       a.sms_number, a.sms_number_e164, a.status, a.data, l.name AS list_name
                  FROM outbound_message m
                  LEFT JOIN outbound_account a ON a.id = m.account_id
                  LEFT JOIN outbound_list l ON l.id = a.list_id
                 WHERE m.id = ANY(%s) ORDER BY m.id
                """,
                message_ids,
            )
        )
        fetched = self.env.cr.dictfetchall()  # before any other query reuses the cursor
        accounts = self.env["outbound.account"]
        labels = accounts._get_status_labels()
        campaign_name = job.campaign_id.name
        rows = []
        for row in fetched:
            payload = {"id": row["id"], "address": row["address"], "context": None}
            if row["account_id"]:
                values = accounts._row_render_values(row, labels)
                payload["context"] = render.make_context(
                    values, list_name=row["list_name"], campaign_name=campaign_name
                )
            rows.append((row["id"], payload))
        return rows

    @api.model
    def _record(self, job, result):
        """Write a batch's outcomes in one statement; requeued ones no longer count in the pace."""
        outcomes = result.outcomes
        for outcome in outcomes:
            if outcome.state == dispatch.FAILED:
                # The batch's failures are logged once, as a warning (_log_failed_batch).
                _logger.debug(
                    "Send job %s: message %s failed: %s",
                    job.name,
                    outcome.message_id,
                    outcome.reason,
                )

        def column(name):
            return [getattr(outcome, name) for outcome in outcomes]

        self.env.cr.execute(
            SQL(
                """
                UPDATE outbound_message m
                   SET state = v.state, failure_reason = v.reason, sent_at = v.sent_at,
                       provider_message_id = v.provider_id, sms_parts = v.parts,
                       sms_price = v.price, outcome_unknown = v.unknown,
                       claimed_at = CASE WHEN v.state = 'queued' THEN NULL ELSE m.claimed_at END
                  FROM unnest(%s::int[], %s::varchar[], %s::text[], %s::timestamp[],
                              %s::varchar[], %s::int[], %s::float[], %s::boolean[])
                       AS v(id, state, reason, sent_at, provider_id, parts, price, unknown)
                 WHERE m.id = v.id AND m.state = 'sending'
                """,
                column("message_id"),
                column("state"),
                column("reason"),
                column("sent_at"),
                column("provider_id"),
                column("parts"),
                column("price"),
                column("unknown"),
            )
        )
        self.env["outbound.message"].invalidate_model()

    @api.model
    def _release_batch(self, batch_id, message_ids):
        """Put a claimed batch back in the queue: nothing of it was tried."""
        self.env.cr.execute(
            SQL(
                "UPDATE outbound_message SET state = 'queued', batch_id = NULL, claimed_at = NULL"
                " WHERE id = ANY(%s) AND state = 'sending'",
                message_ids,
            )
        )
        self.env["outbound.message"].invalidate_model(["state", "batch_id", "claimed_at"])
        commit(self.env.cr)
        self._unlock_batch(batch_id)

    @api.model
    def _unlock_batch(self, batch_id):
        self.env.cr.execute(SQL("SELECT pg_advisory_unlock(%s, %s)", BATCH_LOCK, batch_id))

    # ---- RECOVERY

    @api.model
    def _recover_interrupted(self):
        """Fail the messages a dead dispatcher left 'sending': never resend them automatically."""
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(SQL("SELECT DISTINCT batch_id FROM outbound_message WHERE state = 'sending'"))
        for (batch_id,) in cr.fetchall():
            try:
                self._recover_batch(batch_id)
            except psycopg2.errors.SerializationFailure:
                # Another dispatcher recovered it first.
                cr.rollback()
        self.env["outbound.message"].invalidate_model()

    @api.model
    def _recover_batch(self, batch_id):
        cr = self.env.cr
        cr.execute(SQL("SELECT pg_try_advisory_xact_lock(%s, %s)", BATCH_LOCK, batch_id))
        if not cr.fetchone()[0]:
            return  # a live dispatcher is sending this batch
        reason = self.env._(
            "interrupted: outcome unknown (the dispatcher stopped while sending batch %s); "
            "not resent automatically, check before retrying",
            batch_id,
        )
        cr.execute(
            SQL(
                """
                UPDATE outbound_message SET state = 'failed', failure_reason = %s,
                       outcome_unknown = true
                 WHERE batch_id = %s AND state = 'sending'
                """,
                reason,
                batch_id,
            )
        )
        if cr.rowcount:
            _logger.warning(
                "Outbound batch %s was interrupted: %d message(s) marked failed (outcome unknown)",
                batch_id,
                cr.rowcount,
            )
        commit(cr)

    # ---- DISPATCHERS (the scheduled actions that call _run)

    @api.model
    def _get_dispatcher_count(self):
        """The *Dispatchers* setting; None when the stored value is not a number from 1 (set
        by hand in the system parameters): then no dispatcher retires because of it."""
        value = self.env["ir.config_parameter"].sudo().get_param(DISPATCHERS_PARAM, "1")
        try:
            count = int(value)
        except ValueError:
            return None
        return count if count >= 1 else None

    @api.model
    def _check_dispatcher_count(self, count):
        if not 1 <= count <= MAX_DISPATCHERS:
            raise ValidationError(
                self.env._(
                    "Settings > Outbound > Dispatchers must be from 1 to %(max)s, not %(count)s: "
                    "each dispatcher needs a cron worker of its own while it sends.",
                    max=MAX_DISPATCHERS,
                    count=count,
                )
            )

    @api.model
    def _init_dispatcher_count(self):
        """At install or update, count the dispatch crons an administrator copied by hand
        before the setting existed, so that the setting starts from what runs."""
        params = self.env["ir.config_parameter"].sudo()
        if not params.get_param(DISPATCHERS_PARAM):
            crons = self.env["outbound.send.job"]._get_dispatch_crons()
            params.set_param(DISPATCHERS_PARAM, str(max(len(crons), 1)))

    @api.model
    def _sync_dispatch_crons(self, count):
        """Keep ``count`` dispatch crons active: the shipped one, then copies of it."""
        if not self.env.is_system():
            raise AccessError(self.env._("Only administrators change the number of dispatchers."))
        self._check_dispatcher_count(count)
        crons = self.env["outbound.send.job"]._get_dispatch_crons()
        if len(crons) < count:
            self._add_dispatch_crons(count - len(crons), len(crons))
        elif len(crons) > count:
            self._archive_idle_dispatch_crons(crons[1:], len(crons) - count)

    @api.model
    def _add_dispatch_crons(self, missing, active):
        """Activate ``missing`` more dispatch crons: archived ones first (the shipped one if it
        was archived), then new copies of the shipped one; each is woken to join the work."""
        shipped = self._get_shipped_dispatch_cron()
        added = self.env["outbound.send.job"]._get_dispatch_crons(active=False)[:missing]
        for index, cron in enumerate(added, start=active + 1):
            values = {"active": True}
            if cron != shipped:
                values.update(self._prepare_dispatch_cron_values(shipped, index))
            cron.write(values)
        for index in range(active + len(added) + 1, active + missing + 1):
            added |= shipped.copy(self._prepare_dispatch_cron_values(shipped, index))
        for cron in added:
            cron._trigger()

    @api.model
    def _prepare_dispatch_cron_values(self, shipped, index):
        return {
            "name": f"{shipped.name} ({index})",
            "active": True,
            "user_id": shipped.user_id.id,
            "interval_number": shipped.interval_number,
            "interval_type": shipped.interval_type,
            "priority": shipped.priority,
        }

    @api.model
    def _get_shipped_dispatch_cron(self):
        shipped = self.env.ref(DISPATCH_CRON, raise_if_not_found=False)
        if not shipped:
            raise UserError(
                self.env._(
                    "The scheduled action 'Outbound: send due batches' (%s) was deleted: update "
                    "the Outbound Bulk Messaging module to restore it, then save the setting "
                    "again.",
                    DISPATCH_CRON,
                )
            )
        return shipped.sudo()

    @api.model
    def _archive_idle_dispatch_crons(self, copies, surplus):
        """Archive ``surplus`` of ``copies``, the newest idle ones first.

        Odoo locks the row of a cron while it runs and refuses to write it, so the running
        ones are skipped: those left above the setting retire at their next run
        (``_is_surplus_dispatcher``). Archived rather than deleted: the copies are reused when
        the setting goes up again, and one an administrator made keeps its history.
        """
        idle = copies.browse()
        for cron in copies.sorted("id", reverse=True):
            if len(idle) == surplus:
                break
            if self._lock_idle_cron(cron):
                idle |= cron
        idle.write({"active": False})

    @api.model
    def _lock_idle_cron(self, cron):
        """Lock the row of ``cron`` unless a cron worker runs it now, or ended a run since this
        transaction began (its row changed after our snapshot: PostgreSQL refuses the lock)."""
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    SQL(
                        "SELECT id FROM ir_cron WHERE id = %s FOR NO KEY UPDATE SKIP LOCKED",
                        cron.id,
                    ),
                    log_exceptions=False,
                )
                return bool(self.env.cr.fetchone())
        except psycopg2.errors.SerializationFailure:
            return False

    @api.model
    def _is_surplus_dispatcher(self):
        """Whether this run is one of a dispatch cron above the setting: one that was running
        when the setting went down (see ``_archive_idle_dispatch_crons``), or the last copy once
        a module update restored a deleted shipped cron."""
        cron_id = self.env.context.get("cron_id")
        if not cron_id:  # called directly (tests, Run Manually): not one of the dispatchers
            return False
        count = self._get_dispatcher_count()
        if count is None:
            return False
        return cron_id in self.env["outbound.send.job"]._get_dispatch_crons().ids[count:]

    @api.model
    def _retire_running_dispatcher(self):
        """Send nothing and have Odoo archive this cron when its run ends."""
        _logger.info(
            "Dispatch cron %s retires: Settings > Outbound > Dispatchers is %s",
            self.env.context["cron_id"],
            self._get_dispatcher_count(),
        )
        self.env["ir.cron"]._notify_progress(done=0, remaining=0, deactivate=True)
        return 0
