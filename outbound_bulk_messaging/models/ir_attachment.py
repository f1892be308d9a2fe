import hashlib
import os
import shutil
import uuid

from odoo import api, models

_BLOCK = 1 << 20


class IrAttachment(models.Model):
    _inherit = "ir.attachment"

    @api.model
    def _outbound_create_from_file(self, values, stream):
        """Create an attachment of ``values`` holding the content of the binary file ``stream``,
        copied into the filestore block by block.

        ``create(raw=…)`` needs the content in memory: an import report of a million lines is
        tens of megabytes. The file is stored as ``_file_write`` would (same name, garbage
        collected if the transaction aborts), and its size and checksum are written as
        ``_set_attachment_data`` does. With the database storage there is no file to copy
        into: the content is read and created as usual.
        """
        if self._storage() != "file":
            stream.seek(0)
            return self.create(dict(values, raw=stream.read()))
        checksum, size = _checksum(stream)
        fname = f"{checksum[:2]}/{checksum}"
        full_path = self._full_path(fname)
        if not os.path.exists(full_path):
            os.makedirs(os.path.dirname(full_path), exist_ok=True)
            # Renamed once whole: a file under its checksum's name is never a part of one.
            part = f"{full_path}.{uuid.uuid4().hex}.part"
            try:
                stream.seek(0)
                with open(part, "xb") as target:
                    shutil.copyfileobj(stream, target, _BLOCK)
                os.replace(part, full_path)
            finally:
                if os.path.exists(part):
                    os.unlink(part)
            self._mark_for_gc(fname)
        attachment = self.create(values)
        # ir.attachment's own write drops these fields: written past it, as Odoo's
        # _set_attachment_data does with super(IrAttachment, …).write.
        vals = {"store_fname": fname, "file_size": size, "checksum": checksum, "db_datas": False}
        models.Model.write(attachment, vals)
        return attachment


def _checksum(stream):
    """(SHA-1 as ir.attachment computes it, size) of a binary file, read from its start."""
    digest, size = hashlib.sha1(), 0
    stream.seek(0)
    while block := stream.read(_BLOCK):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size
