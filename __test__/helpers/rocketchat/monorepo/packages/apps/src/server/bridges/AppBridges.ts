// packages/apps/src/server/bridges/AppBridges.ts after this pull request (read at
// @8545f6ff3136032c2b3f30301cab71680b1ce63c): @rocket.chat/apps-engine@1.62.0's AppBridges, whose
// abstract getters are the same up to getExperimentalBridge (the newer getCallHistoryBridge and
// getMediaCallBridge are not in 1.62.0), with the getter and the union member the pull request adds.
import { AppBridges as PublishedAppBridges } from 'apps-engine-1.62/server/bridges/AppBridges';
import type { Bridge as PublishedBridge } from 'apps-engine-1.62/server/bridges/AppBridges';

import type { AnalyticsBridge } from './AnalyticsBridge';

export type Bridge =
	| PublishedBridge
	| AnalyticsBridge;

export abstract class AppBridges extends PublishedAppBridges {
	public abstract getAnalyticsBridge(): AnalyticsBridge;
}
