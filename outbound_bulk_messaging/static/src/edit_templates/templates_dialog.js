/** @odoo-module **/
/**
 * "Edit Templates" of the send wizard: the campaign's templates (and the shared ones) in a
 * dialog over the wizard, each opened in a form dialog of its own. The wizard stays open
 * underneath with what the user chose; closing the dialog brings its preview up to date.
 *
 * Opening another window action from the wizard would replace it (the action service keeps one
 * action dialog), hence the dialog service here.
 */
import { Component, useState } from "@odoo/owl";
import { Dialog } from "@web/core/dialog/dialog";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { FormController } from "@web/views/form/form_controller";
import { formView } from "@web/views/form/form_view";
import { View } from "@web/views/view";
import { FormViewDialog } from "@web/views/view_dialogs/form_view_dialog";
import { many2oneId } from "../live_progress/live_progress_hook";

const TEMPLATE_MODEL = "outbound.template";

export class OutboundTemplatesDialog extends Component {
    static components = { Dialog, View };
    static template = "outbound_bulk_messaging.TemplatesDialog";
    static props = {
        close: Function,
        title: String,
        domain: Array,
        context: Object,
        onEdited: Function,
    };

    setup() {
        this.dialog = useService("dialog");
        // A new key remounts the list, read again after a template was saved.
        this.state = useState({ key: 1 });
    }

    get viewProps() {
        return {
            type: "list",
            resModel: TEMPLATE_MODEL,
            domain: this.props.domain,
            context: this.props.context,
            display: { searchPanel: false },
            editable: false,
            noBreadcrumbs: true,
            showButtons: false,
            loadIrFilters: true,
            searchViewId: false,
            selectRecord: (resId) => this.edit(resId),
            createRecord: () => this.edit(false),
        };
    }

    edit(resId) {
        this.dialog.add(FormViewDialog, {
            resModel: TEMPLATE_MODEL,
            resId,
            context: this.props.context,
            title: resId ? _t("Edit Template") : _t("New Template"),
            onRecordSaved: async (record) => {
                this.state.key++;
                await this.props.onEdited(record.resId);
            },
        });
    }
}

export class OutboundSendWizardController extends FormController {
    setup() {
        super.setup();
        this.dialogService = useService("dialog");
    }

    async beforeExecuteActionButton(clickParams) {
        if (clickParams.type === "object" && clickParams.name === "action_edit_templates") {
            await this.openTemplates();
            return false;
        }
        return super.beforeExecuteActionButton(...arguments);
    }

    async openTemplates() {
        const record = this.model.root;
        // The campaign's own action says which templates and with which defaults.
        const action = await this.orm.call("outbound.campaign", "action_edit_templates", [
            [many2oneId(record.data.campaign_id)],
        ]);
        // Unfolded in the dialog: a group per campaign would hide the templates behind a click.
        const { search_default_group_by_campaign, ...context } = action.context;
        this.dialogService.add(OutboundTemplatesDialog, {
            title: action.name,
            domain: action.domain,
            context,
            onEdited: (templateId) => this.templateEdited(templateId),
        });
    }

    /** Render the preview again when the template shown there was changed. */
    async templateEdited(templateId) {
        const record = this.model.root;
        const shown = ["template_id", "sms_template_id"].map((name) => many2oneId(record.data[name]));
        const account = record.data.preview_account_id;
        if (!shown.includes(templateId) || !account) {
            return;
        }
        // A field set to its own value triggers no onchange: unset the preview account, then
        // set it back (the template fields would also recompute the account chosen).
        await record.update({ preview_account_id: false });
        await record.update({ preview_account_id: account });
    }
}

registry.category("views").add("outbound_send_wizard_form", {
    ...formView,
    Controller: OutboundSendWizardController,
});
