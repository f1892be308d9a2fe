"""A many2one's foreign key, checked once per statement instead of once per row.

A foreign key checks its parent once per inserted row: a third of a send job's creation (one
message per account, in one statement) and a fifth of an import's writing (ten thousand accounts
per statement, all of one list). :class:`StatementReference` keeps the same guarantees with
PostgreSQL triggers that run once per statement:

- an inserted row names an existing parent: the statement gives each parent it names a new row
  version (``UPDATE … SET id = id``), which also keeps a concurrent transaction from deleting it
  meanwhile. Such a deletion waits for this transaction, then fails to serialize (repeatable
  read, which Odoo retries) or deletes the new rows with their parent (read committed): no row is
  ever left orphaned, as with a key. (A key's ``FOR KEY SHARE`` would not do: a deletion that
  waited for it does not fail, and then misses the rows it could not see.)
- a row changes parent only to an existing one, checked row by row (a rare write), or never;
- deleting parents deletes their rows (``ondelete="cascade"``).

Only for a parent the addon owns, whose rows are locked or written by the same transactions
anyway (a job by the transaction creating its messages, a list by its import): the row version
serialises that parent's writers, which a shared row such as a user or a country cannot afford.
"""

from dataclasses import KW_ONLY, dataclass

from odoo.tools import SQL


@dataclass(frozen=True)
class StatementReference:
    """The triggers standing for the foreign key of ``table.column`` to ``parent``.

    :param name: prefix of the functions and triggers (``<name>_check`` …)
    :param label: the parent as error messages name it ("send job")
    :param row_label: a row as error messages name it ("outbound message")
    :param moves: a row may change parent (checked); otherwise a change is refused
    """

    name: str
    table: str
    column: str
    parent: str
    _: KW_ONLY
    label: str
    row_label: str
    moves: bool

    @property
    def foreign_key(self):
        """The name of the key the field would have (PostgreSQL's default)."""
        return f"{self.table}_{self.column}_fkey"

    @property
    def functions(self):
        return (f"{self.name}_check", f"{self.name}_{self._update_kind}", f"{self.parent}_cascade")

    @property
    def _update_kind(self):
        return "moved" if self.moves else "unchanged"

    def install(self, env):
        """Replace the key by the triggers (in ``init``, every update of the module)."""
        cr = env.cr
        # Run after the field's own request for a foreign key, and before the registry creates
        # the requested ones (Registry.init_models): withdrawn here.
        env.registry._foreign_keys.pop((self.table, self.column), None)
        cr.execute(
            SQL(
                "ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s",
                SQL.identifier(self.table),
                SQL.identifier(self.foreign_key),
            )
        )
        cr.execute(SQL("DELETE FROM ir_model_constraint WHERE name = %s", self.foreign_key))
        cr.execute(self.sql())

    def drop(self, env):
        """The triggers' functions, and so the triggers (the module's uninstall hook)."""
        for function in self.functions:
            env.cr.execute(SQL("DROP FUNCTION IF EXISTS %s() CASCADE", SQL.identifier(function)))

    def sql(self):
        """The functions and triggers, as one script: a text without parameters, its ``%s``
        being PostgreSQL's ``format()``'s."""
        check, update, cascade = self.functions
        table, column, parent, label = self.table, self.column, self.parent, self.label
        return f"""
CREATE OR REPLACE FUNCTION {check}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing integer;
BEGIN
    WITH wanted AS (SELECT DISTINCT {column} AS id FROM new_rows),
         kept AS (UPDATE {parent} p SET id = p.id FROM wanted
                   WHERE p.id = wanted.id RETURNING p.id)
    SELECT min(wanted.id) INTO missing
      FROM wanted WHERE NOT EXISTS (SELECT 1 FROM kept WHERE kept.id = wanted.id);
    IF missing IS NOT NULL THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('insert on table "{table}" violates its {label} reference: '
                             '{label} %s does not exist', missing);
    END IF;
    RETURN NULL;
END $$;
{self._update_function_sql(update)}
CREATE OR REPLACE FUNCTION {cascade}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {table} c USING old_rows o WHERE c.{column} = o.id;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS {check} ON {table};
CREATE TRIGGER {check} AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {check}();
DROP TRIGGER IF EXISTS {update} ON {table};
CREATE TRIGGER {update} BEFORE UPDATE OF {column} ON {table}
    FOR EACH ROW WHEN (NEW.{column} IS DISTINCT FROM OLD.{column})
    EXECUTE FUNCTION {update}();
DROP TRIGGER IF EXISTS {cascade} ON {parent};
CREATE TRIGGER {cascade} AFTER DELETE ON {parent}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {cascade}();
"""

    def _update_function_sql(self, function):
        table, column, parent, label = self.table, self.column, self.parent, self.label
        if not self.moves:
            return f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE foreign_key_violation USING
        MESSAGE = format('{self.row_label} %s cannot move from {label} %s to %s',
                         OLD.id, OLD.{column}, NEW.{column});
END $$;"""
        return f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {parent} p SET id = p.id WHERE p.id = NEW.{column};
    IF NOT FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('update on table "{table}" violates its {label} reference: '
                             '{label} %s does not exist', NEW.{column});
    END IF;
    RETURN NEW;
END $$;"""
