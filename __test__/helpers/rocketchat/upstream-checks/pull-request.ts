// What the pull request's changes must make the compiler require or refuse, over the merged tree
// (rocketchat/upstream/ and the stand-ins in ../monorepo/).
import type { IModify } from '@rocket.chat/apps-engine/definition/accessors';

import { UnmodelledAppBridges } from '../monorepo/_standin/UnmodelledAppBridges';
import { todaysModifiers } from '../monorepo/packages/apps/base-runtime/src/lib/accessors/mod';
import { AppBridges } from '../monorepo/packages/apps/src/server/bridges/AppBridges';
import { AnalyticsModify as HostAnalyticsModify, Modify } from '../monorepo/packages/apps/src/server/accessors';
import { TestsAppBridges } from '../monorepo/packages/apps/tests/test-data/bridges/appBridges';
import { RealAppBridges } from '../monorepo/apps/meteor/app/apps/server/bridges/bridges';

// The runtime's getModifier() literal without the new entry no longer satisfies IModify (mod.ts).
// @ts-expect-error Property 'getAnalyticsModifier' is missing.
export const withoutTheEntry: IModify = { ...todaysModifiers() };

// A bridge registry that omits the getter is refused: the getter is abstract.
// @ts-expect-error Non-abstract class does not implement getAnalyticsBridge.
export class ForgotTheGetter extends UnmodelledAppBridges {}

export function registries(orch: ConstructorParameters<typeof RealAppBridges>[0]): AppBridges[] {
	return [new RealAppBridges(orch), new TestsAppBridges()];
}

// The host's Modify (built per App by AppAccessorManager) hands out the accessor with the App's id.
export function hostAccessor(bridges: AppBridges, appId: string): HostAnalyticsModify {
	return new Modify(bridges, appId).getAnalyticsModifier();
}
