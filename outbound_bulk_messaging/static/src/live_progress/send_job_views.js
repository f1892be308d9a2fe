/** @odoo-module **/
/**
 * The send jobs' list and kanban (js_class outbound_send_job_list / outbound_send_job_kanban):
 * reloaded, with their progress bars, when a job sent a batch.
 */
import { registry } from "@web/core/registry";
import { KanbanController } from "@web/views/kanban/kanban_controller";
import { kanbanView } from "@web/views/kanban/kanban_view";
import { ListController } from "@web/views/list/list_controller";
import { listView } from "@web/views/list/list_view";
import { useOutboundJobProgress } from "./live_progress_hook";

export class OutboundSendJobKanbanController extends KanbanController {
    setup() {
        super.setup();
        useOutboundJobProgress(() => this.model.load());
    }
}

export class OutboundSendJobListController extends ListController {
    setup() {
        super.setup();
        // Not while the user selects rows: a reload would drop the selection.
        useOutboundJobProgress(() => this.model.load(), {
            filter: () => !this.model.root.selection.length && !this.model.root.editedRecord,
        });
    }
}

registry.category("views").add("outbound_send_job_kanban", {
    ...kanbanView,
    Controller: OutboundSendJobKanbanController,
});
registry.category("views").add("outbound_send_job_list", {
    ...listView,
    Controller: OutboundSendJobListController,
});
