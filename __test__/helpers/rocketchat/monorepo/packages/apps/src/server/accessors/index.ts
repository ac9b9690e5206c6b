// packages/apps/src/server/accessors/index.ts after this pull request (read at
// @9529941ced54e2078397d8f799169d3adf61c8ab): @rocket.chat/apps-engine@1.62.0's accessors, the
// post-change Modify, and the accessor the pull request adds.
import { AnalyticsModify } from './AnalyticsModify';
import { Modify } from './Modify';

export * from 'apps-engine-1.62/server/accessors';
export {
	AnalyticsModify,
	Modify,
};
