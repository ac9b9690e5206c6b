// packages/apps/base-runtime/src/lib/accessors/mod.ts after this pull request (read at
// @17a05763b656a8ec0156550769a4b53ebcc80ef4): AppAccessors.getModifier() builds the App's IModify
// once, as an object literal assigned to `private modifier?: IModify`, each getter making its
// accessor with the runtime's sender. Reduced to the entry the pull request adds; the nine getters
// there today throw here.
import type { IModify } from '@rocket.chat/apps-engine/definition/accessors';

import type * as Messenger from '../messenger';
import { AnalyticsModify } from './modify/AnalyticsModify';

type TodaysModifiers = Omit<IModify, 'getAnalyticsModifier'>;

function unmodelled(getter: keyof TodaysModifiers): () => never {
	return () => {
		throw new Error(`${getter} is not part of this stand-in`);
	};
}

export const todaysModifiers = (): TodaysModifiers => ({
	getCreator: unmodelled('getCreator'),
	getUpdater: unmodelled('getUpdater'),
	getExtender: unmodelled('getExtender'),
	getDeleter: unmodelled('getDeleter'),
	getNotifier: unmodelled('getNotifier'),
	getUiController: unmodelled('getUiController'),
	getScheduler: unmodelled('getScheduler'),
	getOAuthAppsModifier: unmodelled('getOAuthAppsModifier'),
	getModerationModifier: unmodelled('getModerationModifier'),
});

export class AppAccessors {
	private modifier?: IModify;

	constructor(private readonly senderFn: typeof Messenger.sendRequest) {}

	public getModifier() {
		if (!this.modifier) {
			this.modifier = {
				...todaysModifiers(),
				getAnalyticsModifier: () => new AnalyticsModify(this.senderFn),
			};
		}

		return this.modifier;
	}
}
