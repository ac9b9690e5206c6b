// The pull request's definitions against @rocket.chat/apps-engine@1.66.0 alone (no stand-ins):
// IAnalyticsModify.ts as it is, and the IModify change as a module augmentation of 1.66.0's
// IModify, the way an App written against the changed definitions would see it.
import type { IModify } from '@rocket.chat/apps-engine/definition/accessors';
import type { IMessage, IPostMessageSent } from '@rocket.chat/apps-engine/definition/messages';
import { AppPermissions, defaultPermissions } from '@rocket.chat/apps-engine/definition/metadata/AppPermissions';
import type { IPermission } from '@rocket.chat/apps-engine/definition/permissions/IPermission';

import type { AnalyticsEvent } from '../../../../index';
import type { IAnalyticsEvent, IAnalyticsModify } from '../../../../rocketchat/upstream/packages/apps-engine/src/definition/accessors/IAnalyticsModify';

declare module '@rocket.chat/apps-engine/definition/accessors/IModify' {
	interface IModify {
		/** Gets the accessor for logging analytics events. */
		getAnalyticsModifier(): IAnalyticsModify;
	}
}

// An App's handler, typed by 1.66.0's own handler interface, reaches the accessor through the
// IModify it is given.
export class SurveyLinks implements IPostMessageSent {
	public async executePostMessageSent(message: IMessage, _read: unknown, _http: unknown, _persistence: unknown, modify: IModify): Promise<void> {
		const eventId: string | undefined = await modify.getAnalyticsModifier().logEvent({
			category: 'Survey',
			action: 'link_clicked',
			roomId: message.room.id,
			eventType: 'customerAction',
		});
		void eventId;
	}
}

// The permission entry has the shape of 1.66.0's IPermission and a name no 1.66.0 entry uses;
// defaultPermissions stays an Array<IPermission>, without it.
const analyticsWrite: IPermission = { name: 'analytics.write' };
// @ts-expect-error 1.66.0 has no 'analytics' scope: the pull request adds it.
void AppPermissions.analytics;
const defaults: Array<IPermission> = defaultPermissions;
void [analyticsWrite, defaults];

// The Meteor bridge passes the App's event to rocketchat-sns-analytics's doLogEvent unchanged, so
// the two event types must accept each other.
export const toPackage = (event: IAnalyticsEvent): AnalyticsEvent => event;
export const fromPackage = (event: AnalyticsEvent): IAnalyticsEvent => event;
