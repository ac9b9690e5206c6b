/** One analytics event, as an App logs it. */
export interface IAnalyticsEvent {
	/** The category of the event, e.g. `'Chat Session'`. Required, non-empty. */
	category: string;

	/** What happened within the category, e.g. `'closed'`. Required, non-empty. */
	action: string;

	/** Flat properties: scalars or arrays of scalars; nested objects are refused. */
	properties?: Record<string, string | number | boolean | null | Array<string | number | boolean | null>>;

	/** The Livechat room the event is about. */
	roomId?: string;

	/** The Livechat widget's browser tab, for events the widget reports. */
	tabId?: string;

	/** The Dialogflow agent the event is routed by; defaults to the workspace's. */
	dialogflowAgentId?: string;

	/** `'customerAction'` for what the visitor did, `'session'` for everything else. */
	eventType?: 'customerAction' | 'session';

	/** When it happened: a Date, an ISO-8601 string or epoch milliseconds; defaults to now. */
	timestamp?: Date | string | number;
}

/**
 * Lets an App record analytics events in the workspace's analytics pipeline.
 *
 * Every event is attributed to the calling App: the workspace takes the App's id from
 * the App's own identity, never from the event, and applies the App's rate limit to it.
 */
export interface IAnalyticsModify {
	/** Logs an event; resolves to its id, or to `undefined` when the App lacks the `analytics.write` permission. Rejects when the workspace refuses the event. */
	logEvent(event: IAnalyticsEvent): Promise<string | undefined>;
}
