// packages/apps/base-runtime/src/lib/bridges/tests/bridgeCall.test.ts after this pull request,
// for the type checker: its list `const bridges: BridgeName[]` with the element the pull request
// appends must be a list of BridgeName.
import type { BridgeName } from '../monorepo/packages/apps/base-runtime/src/lib/bridges/bridgeCall';

export const appended: BridgeName[] = [
			'getAnalyticsBridge',
];
