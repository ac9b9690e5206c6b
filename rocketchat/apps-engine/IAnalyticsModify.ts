// What an App calls: `modify.getAnalytics().logEvent(event)`, next to IModify's other
// getters (getCreator, getUpdater, getScheduler, getModerationModifier in
// packages/apps-engine/src/definition/accessors/IModify.ts). Analytics events are
// something an App makes happen, like a message or a job, hence IModify rather than
// IRead or an extender.

/** One analytics event, as the server's logger takes it (see rocketchat-sns-analytics's index.d.ts). */
export interface IAnalyticsEvent {
    category: string;
    action: string;
    properties?: Record<string, string | number | boolean | null | Array<string | number | boolean | null>>;
    roomId?: string;
    tabId?: string;
    dialogflowAgentId?: string;
    eventType?: 'customerAction' | 'session';
    timestamp?: Date | string | number;
}

export interface IAnalyticsModify {
    /**
     * Logs an analytics event for this App; resolves to the event's id, or to
     * `undefined` when the App lacks the `analytics.write` permission (the Apps-Engine
     * reports that as a PermissionDeniedError).
     */
    logEvent(event: IAnalyticsEvent): Promise<string | undefined>;
}
