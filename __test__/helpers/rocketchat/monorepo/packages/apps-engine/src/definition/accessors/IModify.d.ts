// packages/apps-engine/src/definition/accessors/IModify.ts after this pull request, for the type
// checker: @rocket.chat/apps-engine@1.66.0's IModify (definition/accessors/IModify.d.ts, the same
// getters as IModify.ts@07b030d3d790b5c85e8ab430653a4a10ede14aab) with the getter the pull request
// adds. It is merged into 1.66.0's interface as a module augmentation, so every 1.66.0 signature
// that takes an IModify sees it, as it would after the real change.
import type { IAnalyticsModify } from './IAnalyticsModify';

export type { IModify } from 'apps-engine-1.66/definition/accessors/IModify';

declare module 'apps-engine-1.66/definition/accessors/IModify' {
	interface IModify {
		/** Gets the accessor for logging analytics events. */
		getAnalyticsModifier(): IAnalyticsModify;
	}
}
