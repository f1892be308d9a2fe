/** @odoo-module **/
/**
 * Live progress of the send jobs: the dispatcher sends one bus notification per batch
 * ("outbound.send.job/progress", {job_id, campaign_id, count_*, progress}) on the channel of the
 * job's company, which the server subscribes the company's Outbound users to.
 */
import { status, useComponent, useEffect } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";

export const PROGRESS_NOTIFICATION = "outbound.send.job/progress";

/**
 * Calls `refresh(payload)` on each progress notification that `filter(payload)` accepts, while
 * the component is mounted. Refreshes never overlap: notifications arriving during one are
 * folded into a single refresh after it, with the latest payload.
 */
export function useOutboundJobProgress(refresh, { filter = () => true } = {}) {
    const component = useComponent();
    const busService = useService("bus_service");
    let running = false;
    let next = null;
    const onProgress = async (payload) => {
        if (!filter(payload)) {
            return;
        }
        next = payload;
        if (running) {
            return;
        }
        running = true;
        try {
            while (next && status(component) !== "destroyed") {
                const current = next;
                next = null;
                await refresh(current);
            }
        } finally {
            running = false;
        }
    };
    useEffect(
        () => {
            busService.subscribe(PROGRESS_NOTIFICATION, onProgress);
            return () => busService.unsubscribe(PROGRESS_NOTIFICATION, onProgress);
        },
        () => []
    );
}

/** The id of a many2one value as the relational model holds it. */
export function many2oneId(value) {
    if (!value) {
        return false;
    }
    return Array.isArray(value) ? value[0] : value.id;
}

/**
 * Puts server `values` into `record` without making it dirty and without touching what the user
 * changed: fields the record holds as changes (a new record's computed figures) stay changes.
 */
export function applyServerFigures(record, values) {
    return record.model.mutex.exec(() => {
        const asValues = {};
        const asChanges = {};
        for (const [name, value] of Object.entries(values)) {
            if (name === "id" || !(name in record.activeFields)) {
                continue;
            }
            (name in record._changes ? asChanges : asValues)[name] = value;
        }
        record._applyValues(asValues);
        record._applyChanges({}, asChanges);
    });
}
