/** @odoo-module **/
/**
 * <widget name="outbound_deferred_counts"/> in the send wizard: on a scope too large to count
 * while the screen opens, the server leaves the recipient rules' figures (messages to send, who
 * is left out, SMS cost) at zero and sets `pending_counts`, a key of the scope. This widget then
 * asks for them (outbound.send.wizard.get_sendable_figures) and puts them on screen, keeping
 * what the user typed. A reply for a scope the user has since changed is dropped: the change
 * set a new key, whose own request follows.
 */
import { Component, useEffect, xml } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";
import { applyServerFigures, many2oneId } from "../live_progress/live_progress_hook";

export class OutboundDeferredCounts extends Component {
    static template = xml`<span class="o_outbound_deferred_counts d-none"/>`;
    static props = { ...standardWidgetProps };

    setup() {
        this.orm = useService("orm");
        useEffect(
            (key) => {
                if (key) {
                    this.count(key);
                }
            },
            () => [this.props.record.data.pending_counts]
        );
    }

    async count(key) {
        const record = this.props.record;
        const data = record.data;
        const figures = await this.orm.call(record.resModel, "get_sendable_figures", [
            {
                campaign_id: many2oneId(data.campaign_id),
                list_id: many2oneId(data.list_id),
                account_statuses: data.account_statuses.currentIds,
                active_lists_only: data.active_lists_only,
                resend_period: data.resend_period,
                template_id: many2oneId(data.template_id),
                sms_template_id: many2oneId(data.sms_template_id),
            },
        ]);
        if (record.data.pending_counts === key) {
            await applyServerFigures(record, figures);
        }
    }
}

registry
    .category("view_widgets")
    .add("outbound_deferred_counts", { component: OutboundDeferredCounts });
