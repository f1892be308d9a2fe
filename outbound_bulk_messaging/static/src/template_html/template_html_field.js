/** @odoo-module **/
/**
 * widget="outbound_template_html": Odoo's HTML editor for a template's body, with the
 * template's placeholders ($ACCOUNT_NAME, $ACCOUNT_<COLUMN>, …) in the powerbox (type "/"),
 * under "Placeholders". The list is the template's ``placeholder_names`` field.
 */
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { HtmlField, htmlField } from "@html_editor/fields/html_field";
import { withSequence } from "@html_editor/utils/resource";

export class OutboundTemplateHtmlField extends HtmlField {
    getConfig() {
        const config = super.getConfig();
        const names = this.props.record.data.placeholder_names || [];
        const commands = names.map((name) => ({
            id: `outboundPlaceholder${name}`,
            title: name,
            description: _t("Insert the placeholder %s", name),
            icon: "fa-dollar",
            run: () => {
                this.editor.shared.dom.insert(name);
                this.editor.shared.history.addStep();
            },
        }));
        const resources = config.resources || {};
        config.resources = {
            ...resources,
            user_commands: [...toArray(resources.user_commands), ...commands],
            powerbox_categories: [
                ...toArray(resources.powerbox_categories),
                withSequence(5, { id: "outbound_placeholders", name: _t("Placeholders") }),
            ],
            powerbox_items: [
                ...toArray(resources.powerbox_items),
                ...commands.map((command) => ({
                    categoryId: "outbound_placeholders",
                    commandId: command.id,
                })),
            ],
        };
        return config;
    }
}

function toArray(value) {
    if (!value) {
        return [];
    }
    return Array.isArray(value) ? value : [value];
}

registry.category("fields").add("outbound_template_html", {
    ...htmlField,
    component: OutboundTemplateHtmlField,
});
