import hashlib
import os
import tempfile

from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestAttachmentFromFile(TransactionCase):
    """ir.attachment from a file copied into the filestore block by block (large reports)."""

    CONTENT = b"line,severity\n" + b"".join(b"%d,error\n" % n for n in range(300_000))

    def _create(self, content, name="report.zip"):
        with tempfile.TemporaryFile() as stream:
            stream.write(content)
            return self.env["ir.attachment"]._outbound_create_from_file(
                {"name": name, "mimetype": "application/zip", "res_model": "res.partner"},
                stream,
            )

    def test_the_file_is_stored_as_create_would_store_its_content(self):
        attachment = self._create(self.CONTENT)
        expected = self.env["ir.attachment"].create(
            {"name": "same.zip", "raw": self.CONTENT, "mimetype": "application/zip"}
        )
        checksum = hashlib.sha1(self.CONTENT).hexdigest()
        self.assertEqual(
            (attachment.checksum, attachment.file_size, attachment.store_fname),
            (checksum, len(self.CONTENT), expected.store_fname),
        )
        self.assertEqual(attachment.raw, self.CONTENT)
        self.assertFalse(attachment.db_datas)
        self.assertTrue(os.path.isfile(attachment._full_path(attachment.store_fname)))
        # The directory holds the file under its checksum's name only: no part left behind.
        directory = os.path.dirname(attachment._full_path(attachment.store_fname))
        self.assertEqual([n for n in os.listdir(directory) if n.endswith(".part")], [])

    def test_a_second_file_of_the_same_content_shares_the_stored_one(self):
        first, second = self._create(self.CONTENT), self._create(self.CONTENT, "again.zip")
        self.assertEqual(first.store_fname, second.store_fname)
        self.assertEqual(second.raw, self.CONTENT)
        self.assertEqual(self._create(b"").raw, b"")

    def test_database_storage_reads_the_file_into_the_record(self):
        self.env["ir.config_parameter"].sudo().set_param("ir_attachment.location", "db")
        attachment = self._create(self.CONTENT)
        self.assertFalse(attachment.store_fname)
        self.assertEqual(attachment.db_datas, self.CONTENT)
        self.assertEqual(attachment.raw, self.CONTENT)
