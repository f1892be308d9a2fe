/** @odoo-module **/
/**
 * <widget name="outbound_live_refresh"/> in a form: refreshes the record when one of its jobs
 * sent a batch, without reloading the page.
 *
 * - send job: its own notifications; campaign: those of its jobs. A record with unsaved edits
 *   gets its read-only fields (counts, progress, state) read again, the rest is left as typed;
 *   otherwise the record is reloaded.
 * - send wizard (a new transient record being edited): never reloaded; only the panel's message
 *   counts are read again (outbound.send.wizard.get_live_panel_counts).
 */
import { Component, xml } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";
import { applyServerFigures, many2oneId, useOutboundJobProgress } from "./live_progress_hook";

const NOT_REREAD_TYPES = ["one2many", "many2many", "properties", "properties_definition"];

export class OutboundLiveRefresh extends Component {
    static template = xml`<span class="o_outbound_live_refresh d-none"/>`;
    static props = { ...standardWidgetProps };

    setup() {
        this.orm = useService("orm");
        useOutboundJobProgress(() => this.refresh(), {
            filter: (payload) => this.concerns(payload),
        });
    }

    concerns(payload) {
        const record = this.props.record;
        switch (record.resModel) {
            case "outbound.send.job":
                return !record.isNew && payload.job_id === record.resId;
            case "outbound.campaign":
                return !record.isNew && payload.campaign_id === record.resId;
            case "outbound.send.wizard":
                return payload.campaign_id === many2oneId(record.data.campaign_id);
        }
        return false;
    }

    async refresh() {
        const record = this.props.record;
        if (record.resModel === "outbound.send.wizard") {
            const counts = await this.orm.call(record.resModel, "get_live_panel_counts", [
                many2oneId(record.data.campaign_id),
                many2oneId(record.data.list_id),
            ]);
            return applyServerFigures(record, counts);
        }
        if (await record.isDirty()) {
            const [values] = await this.orm.read(record.resModel, [record.resId], this.rereadFields);
            return applyServerFigures(record, values);
        }
        return record.load();
    }

    /** Fields nobody types in: safe to read again under unsaved edits. */
    get rereadFields() {
        const record = this.props.record;
        return Object.keys(record.activeFields).filter((name) => {
            const field = record.fields[name];
            return (
                field.readonly && !NOT_REREAD_TYPES.includes(field.type) && !(name in record._changes)
            );
        });
    }
}

registry.category("view_widgets").add("outbound_live_refresh", { component: OutboundLiveRefresh });
