// packages/apps/src/server/accessors/Modify.ts after this pull request (read at
// @0906635a67b857ad7248d5d36a07533bc815c65a): the host's IModify, built per App by
// AppAccessorManager.getModifier(appId) as `new Modify(this.bridges, appId)`, each accessor made in
// the constructor from a bridge and that appId. Reduced to the lines the pull request adds; the
// nine getters there today throw here (@rocket.chat/apps-engine@1.62.0's own Modify returns
// 1.62.0's accessor types, which are not 1.66.0's).
import type { IModify } from '@rocket.chat/apps-engine/definition/accessors';

import type { AppBridges } from '../bridges';
import { AnalyticsModify } from './AnalyticsModify';

function unmodelled(getter: keyof IModify): never {
	throw new Error(`${getter} is not part of this stand-in`);
}

export class Modify implements IModify {
	private analytics: AnalyticsModify;

	constructor(
		private readonly bridges: AppBridges,
		private readonly appId: string,
	) {
		this.analytics = new AnalyticsModify(this.bridges.getAnalyticsBridge(), this.appId);
	}

	public getCreator(): never {
		return unmodelled('getCreator');
	}

	public getDeleter(): never {
		return unmodelled('getDeleter');
	}

	public getExtender(): never {
		return unmodelled('getExtender');
	}

	public getUpdater(): never {
		return unmodelled('getUpdater');
	}

	public getNotifier(): never {
		return unmodelled('getNotifier');
	}

	public getUiController(): never {
		return unmodelled('getUiController');
	}

	public getScheduler(): never {
		return unmodelled('getScheduler');
	}

	public getOAuthAppsModifier(): never {
		return unmodelled('getOAuthAppsModifier');
	}

	public getModerationModifier(): never {
		return unmodelled('getModerationModifier');
	}

	public getAnalyticsModifier() {
		return this.analytics;
	}
}
