/** @odoo-module **/
/**
 * A template's HTML body in Odoo's editor, driven by tests/test_ui.py: a placeholder inserted
 * from the powerbox's Placeholders menu, then an SMS-only template losing its Subject.
 */
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("outbound_template_editor_tour", {
    url: "/odoo/action-outbound_bulk_messaging.outbound_template_action",
    steps: () => [
        {
            content: "Open the HTML template",
            trigger: ".o_list_view .o_data_row td[name=name]:contains(/^Letter$/)",
            run: "click",
        },
        {
            content: "The body is in the HTML editor, not in a code box",
            trigger: ".o_form_view div[name=body_html] .odoo-editor-editable:contains(Dear)",
            async run() {
                // Type "/" at the end of the text, as a user would.
                const paragraph = this.anchor.querySelector("p") || this.anchor;
                this.anchor.focus();
                const range = document.createRange();
                range.selectNodeContents(paragraph);
                range.collapse(false);
                const selection = document.getSelection();
                selection.removeAllRanges();
                selection.addRange(range);
                await new Promise((resolve) => setTimeout(resolve, 50));
                // execCommand fires no beforeinput, where the editor notes where "/" began.
                const typed = new InputEvent("beforeinput", {
                    inputType: "insertText",
                    data: "/",
                    bubbles: true,
                    cancelable: true,
                });
                if (this.anchor.dispatchEvent(typed)) {
                    document.execCommand("insertText", false, "/");
                }
            },
        },
        {
            content: "The powerbox lists the placeholders",
            trigger: ".o-we-powerbox .o-we-category:contains(Placeholders)",
        },
        {
            content: "Insert $ACCOUNT_REFERENCE",
            trigger: ".o-we-powerbox .o-we-command:contains($ACCOUNT_REFERENCE)",
            run: "click",
        },
        {
            content: "It is in the body, where the / was typed",
            trigger: ".o_form_view div[name=body_html] .odoo-editor-editable p:contains(/^Dear \\$ACCOUNT_NAME,\\$ACCOUNT_REFERENCE$/)",
        },
        {
            content: "Save",
            trigger: ".o_form_view .o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_view .o_form_saved",
        },
        {
            content: "Back to the templates",
            trigger: ".o_breadcrumb .breadcrumb-item a:contains(Message Templates)",
            run: "click",
        },
        {
            content: "Open the text template",
            trigger: ".o_list_view .o_data_row td[name=name]:contains(/^Reminder$/)",
            run: "click",
        },
        {
            content: "It has a subject",
            trigger: ".o_form_view div[name=subject] input",
        },
        {
            content: "Make it SMS-only",
            trigger: ".o_form_view div[name=use_for_email] input",
            run: "click",
        },
        {
            content: "The Subject is hidden",
            trigger: ".o_form_view:not(:has(div[name=subject])) div[name=use_for_email] input:not(:checked)",
        },
        {
            content: "Save",
            trigger: ".o_form_view .o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_view .o_form_saved",
        },
    ],
});
