// apps/meteor/app/apps/server/bridges/bridges.ts after this pull request (RealAppBridges, read as
// the stored version with index id 39798511925 and at @b92e80c8cad34f9c01d95034d7b47055794ab7ec):
// one field, one constructor line and one getter per bridge, built with the orchestrator. Reduced
// to the bridge the pull request adds; every other getter throws.
import type { IAppServerOrchestrator } from '@rocket.chat/apps';

import { UnmodelledAppBridges } from '../../../../../../_standin/UnmodelledAppBridges';
import { AppAnalyticsBridge } from './analytics';

export class RealAppBridges extends UnmodelledAppBridges {
	private _analyticsBridge: AppAnalyticsBridge;

	constructor(orch: IAppServerOrchestrator) {
		super();

		this._analyticsBridge = new AppAnalyticsBridge(orch);
	}

	getAnalyticsBridge() {
		return this._analyticsBridge;
	}
}
