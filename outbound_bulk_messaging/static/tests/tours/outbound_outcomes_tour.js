/** @odoo-module **/
/**
 * What came back, as a supervisor sees it, driven by tests/test_ui_outcomes.py: the SMS job
 * counts one delivered, one undelivered text and one reply, the email job one bounce, the reply
 * is listed under Outbound → Replies and told on the account's chatter, which is now a call-back.
 */
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

const FORM = ".o_form_view";
const REPLY = "Please call me after 5pm";

function fieldIs(name, text) {
    return `${FORM} .o_field_widget[name=${name}]:contains(/^${text}$/)`;
}

function menuSteps(parent, menu, label) {
    return [
        {
            content: `Open the ${parent} menu`,
            trigger: `.o_main_navbar [data-menu-xmlid='outbound_bulk_messaging.${parent}']`,
            run: "click",
        },
        {
            content: `Open ${label}`,
            trigger: `.dropdown-item[data-menu-xmlid='outbound_bulk_messaging.${menu}']`,
            run: "click",
        },
    ];
}

function openJobSteps(channel) {
    return [
        ...menuSteps("outbound_menu_sending", "outbound_menu_send_job", "Send Jobs"),
        {
            content: `Open the ${channel} job`,
            trigger: `.o_list_view .o_data_row td[name=channel]:contains(/^${channel}$/)`,
            run: "click",
        },
        { content: `The ${channel} job is open`, trigger: fieldIs("channel", channel) },
    ];
}

registry.category("web_tour.tours").add("outbound_outcomes_tour", {
    url: "/odoo",
    steps: () => [
        ...stepUtils.goToAppSteps("outbound_bulk_messaging.outbound_menu_root", "Open Outbound"),
        ...openJobSteps("SMS"),
        { content: "3 texts sent", trigger: fieldIs("count_sent", 3) },
        { content: "1 delivered", trigger: fieldIs("count_delivered", 1) },
        { content: "1 undelivered", trigger: fieldIs("count_undelivered", 1) },
        { content: "1 reply", trigger: fieldIs("count_replied", 1) },
        ...openJobSteps("Email"),
        { content: "3 emails sent", trigger: fieldIs("count_sent", 3) },
        { content: "1 bounced", trigger: fieldIs("count_bounced", 1) },
        {
            content: "Open Replies",
            trigger: ".o_main_navbar [data-menu-xmlid='outbound_bulk_messaging.outbound_menu_inbound_sms']",
            run: "click",
        },
        {
            content: "The reply is listed",
            trigger: `.o_list_view .o_data_row:contains(${REPLY})`,
        },
        ...menuSteps("outbound_menu_campaigns", "outbound_menu_account", "Accounts"),
        {
            content: "Open the account that replied",
            trigger: ".o_list_view .o_data_row td[name=reference]:contains(/^N3$/)",
            run: "click",
        },
        {
            content: "The reply is on the account's chatter",
            trigger: `.o-mail-Chatter .o-mail-Message:contains(${REPLY})`,
        },
        {
            content: "The account is now a call-back",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains(Call-back)",
        },
    ],
});
