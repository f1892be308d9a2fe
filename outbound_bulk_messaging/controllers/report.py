import logging
import tempfile

from werkzeug.wsgi import wrap_file

from odoo import api, http
from odoo.exceptions import AccessError
from odoo.http import content_disposition, request

_logger = logging.getLogger(__name__)

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class OutboundReportController(http.Controller):
    """The outcome report of a send job, streamed whatever its size.

    CSV is generated while it is sent, in a cursor of its own: the request's cursor is closed
    before the body is sent. XLSX must be complete before it can be read (a zip file), so it is
    written in constant memory to an anonymous temporary file, which is then streamed and is gone
    once closed, even when the download is interrupted.
    """

    @http.route(
        "/outbound/job/<int:job_id>/report.<any(csv, xlsx):file_format>",
        type="http",
        auth="user",
        methods=["GET"],
        sitemap=False,
    )
    def job_report(self, job_id, file_format, **_params):
        job = request.env["outbound.send.job"].browse(job_id).exists()
        if not job:
            return request.make_response("not found", status=404)
        try:
            job.check_access("read")
        except AccessError:
            _logger.info("Refused the report of send job %s to user %s", job_id, request.env.uid)
            return request.make_response("forbidden", status=403)
        filename = request.env["outbound.job.report"]._get_filename(job, file_format)
        headers = [
            ("Content-Type", CONTENT_TYPES[file_format]),
            ("Content-Disposition", content_disposition(filename)),
            ("Cache-Control", "no-store"),
        ]
        if file_format == "csv":
            body = self._csv_chunks(job)
        else:
            body, size = self._xlsx_file(job)
            headers.append(("Content-Length", str(size)))
        return http.Response(body, headers=headers, direct_passthrough=True)

    def _csv_chunks(self, job):
        registry, uid, context, job_id = (
            request.env.registry,
            request.env.uid,
            dict(request.env.context),
            job.id,
        )

        def chunks():
            # One transaction for the whole file: every chunk reads the same snapshot.
            with registry.cursor(readonly=True) as cr:
                env = api.Environment(cr, uid, context)
                report = env["outbound.job.report"]
                yield from report._iter_csv(env["outbound.send.job"].browse(job_id))

        return chunks()

    def _xlsx_file(self, job):
        target = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the response)
        try:
            request.env["outbound.job.report"]._write_xlsx(job, target)
            size = target.tell()
            target.seek(0)
        except BaseException:
            target.close()
            raise
        return wrap_file(request.httprequest.environ, target), size
