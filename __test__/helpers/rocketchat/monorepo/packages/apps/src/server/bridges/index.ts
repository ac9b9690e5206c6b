// packages/apps/src/server/bridges/index.ts after this pull request (read at
// @ada68b3d22ea647da1fccf22dac04d283222d27c): @rocket.chat/apps-engine@1.62.0's bridges, the
// post-change AppBridges, and the bridge the pull request adds.
import { AnalyticsBridge } from './AnalyticsBridge';
import { AppBridges } from './AppBridges';

export * from 'apps-engine-1.62/server/bridges';
export {
	AnalyticsBridge,
	AppBridges,
};
