// The server side of rocketchat-sns-analytics/rocketchat, type-checked against
// Rocket.Chat's published typings (@rocket.chat/core-typings, @rocket.chat/rest-typings).
// The few Rocket.Chat objects without published typings are declared below with their
// signatures copied from the source, each naming its file.
import type { ILivechatVisitor, InquiryWithAgentInfo, IOmnichannelRoom, ISetting, SettingValue } from '@rocket.chat/core-typings';
import type { Endpoints } from '@rocket.chat/rest-typings';
import { ajv, validateBadRequestErrorResponse } from '@rocket.chat/rest-typings';
import type { ValidateFunction } from 'ajv';
import * as client from 'prom-client';

import {
	appsBridge,
	bindSettings,
	handleShutdown,
	registerOmnichannelCallbacks,
	registerPrometheusMetrics,
	registerSettings,
	widgetEventRoute,
	WIDGET_ROUTE,
} from 'rocketchat-sns-analytics/rocketchat';
import type { WidgetEventsEndpoints } from 'rocketchat-sns-analytics/rocketchat';

// apps/meteor/server/settings/CachedSettings.ts@79dd2f8a9c5fc18d10f16d05fec6604127d0997c (ICachedSettings)
interface ICachedSettings {
	get<T extends SettingValue = SettingValue>(_id: ISetting['_id']): T;
	watchMultiple<T extends SettingValue = SettingValue>(_id: ISetting['_id'][], callback: (settings: T[]) => void): () => void;
}

// apps/meteor/server/settings/SettingsRegistry.ts@9fcb71da6495da073dc2ceffd375d3464ad01b53
type ISettingAddOptions = Partial<ISetting>;
type addSectionCallback = (this: {
	add(id: string, value: SettingValue, options: ISettingAddOptions): Promise<void>;
	with(options: ISettingAddOptions, cb: addSectionCallback): Promise<void>;
}) => Promise<void>;
type addGroupCallback = (this: {
	add(id: string, value: SettingValue, options: ISettingAddOptions): Promise<void>;
	section(section: string, cb: addSectionCallback): Promise<void>;
	with(options: ISettingAddOptions, cb: addGroupCallback): Promise<void>;
}) => Promise<void>;
declare class SettingsRegistry {
	addGroup(_id: string, cb?: addGroupCallback): Promise<void>;
}

// apps/meteor/server/lib/callbacks/callbacksBase.ts@4e43840098dd6bb55f16397d277619dd276035df
declare enum CallbackPriority {
	HIGH = -1000,
	MEDIUM = 0,
	LOW = 1000,
}
declare class Callbacks {
	readonly priority: typeof CallbackPriority;
	add(hook: 'livechat.closeRoom', callback: (params: { room: IOmnichannelRoom; options: unknown }) => void, priority?: CallbackPriority, id?: string): () => void;
	add<TItem, TConstant, TNextItem = TItem>(
		hook: string,
		callback: (item: TItem, constant?: TConstant) => TNextItem,
		priority?: CallbackPriority,
		id?: string,
	): () => void;
	remove(hook: string, id: string): void;
}
// The generation before (apps/meteor/lib/callbacks.ts@02af8ce30c0393b638db4c0301fe3eaf0ee1e5f9): add returns void.
declare class LegacyCallbacks {
	readonly priority: typeof CallbackPriority;
	add<TItem, TConstant, TNextItem = TItem>(
		hook: string,
		callback: (item: TItem, constant?: TConstant) => TNextItem,
		priority?: CallbackPriority,
		id?: string,
	): void;
	remove(hook: string, id: string): void;
}

// packages/patch-injection/src/definition.ts (the version with originalSignature, next: T)
type BaseFunction = (...args: any[]) => any;
type PatchFunction<T extends BaseFunction> = (next: T, ...args: Parameters<T>) => ReturnType<T>;
type PatchedFunction<T extends BaseFunction> = T & {
	patch: (patch: PatchFunction<T>, condition?: () => boolean) => () => void;
	originalSignature: T;
	patchSignature: PatchFunction<T>;
};
// apps/meteor/server/lib/omnichannel/hooks.ts@4ddbc683c78066e4d04aafebffeb17779ccf6d7f
declare const onNewRoom: PatchedFunction<(room: IOmnichannelRoom) => Promise<void>>;
declare const afterTakeInquiry: PatchedFunction<
	(params: { inquiry: InquiryWithAgentInfo; room: IOmnichannelRoom; agent: { agentId: string; username: string } }) => Promise<void>
>;

// apps/meteor/server/api/ApiClass.ts@b2da25443e9c7472fb23fb68799290b6d67e6cbe: the
// route typing, rebuilt for POST (ExtractValidation, ConvertToRoute, ExtractRoutesFromAPI).
type Prettify<T> = { [K in keyof T]: T[K] } & unknown;
type ExtractValidation<T> = T extends ValidateFunction<infer TSchema> ? TSchema : never;
type UnionToIntersection<U> = (U extends any ? (x: U) => any : never) extends (x: infer I) => any ? I : never;
type MinimalRoute = { method: 'GET' | 'POST' | 'PUT' | 'DELETE'; path: string; body?: unknown; response?: unknown };
type ConvertToRoute<TRoute extends MinimalRoute> = {
	[K in TRoute['path']]: {
		[K2 in Extract<TRoute, { path: K }>['method']]: K2 extends 'POST' | 'PUT'
			? (
					params: ExtractValidation<Extract<TRoute, { path: K; method: K2 }>['body']>,
				) => ExtractValidation<
					200 extends keyof Extract<TRoute, { path: K; method: K2 }>['response'] ? Extract<TRoute, { path: K; method: K2 }>['response'][200] : never
				>
			: never;
	};
};
declare class APIClass<TBasePath extends string = '', TOperations = never> {
	post<TSubPathPattern extends string, TOptions extends { response: object }, TPathPattern extends `${TBasePath}/${TSubPathPattern}`>(
		subpath: TSubPathPattern,
		options: TOptions,
		action: (this: { bodyParams: any }) => Promise<unknown>,
	): APIClass<TBasePath, TOperations | Prettify<{ method: 'POST'; path: TPathPattern } & TOptions>>;
	success<T>(result?: T): { statusCode: 200; body: T };
	failure<T, TErrorType extends string>(result?: T, errorType?: TErrorType, stack?: string, error?: { details: unknown }): { statusCode: 400; body: T };
}
type ExtractRoutesFromAPI<T> = Prettify<
	UnionToIntersection<T extends APIClass<any, infer TOperations> ? (TOperations extends MinimalRoute ? Prettify<ConvertToRoute<TOperations>> : never) : never>
>;
declare const API: { v1: APIClass<'/v1'> };

// apps/meteor/server/api/v1/omnichannel/lib/livechat.ts@52ee6c277218499adf7ac8b5fede8b6f7a4c9095
declare function findGuest(token: string): Promise<ILivechatVisitor | null>;
declare function findRoom(token: string, rid?: string): Promise<IOmnichannelRoom | null>;

declare const settings: ICachedSettings;
declare const settingsRegistry: SettingsRegistry;
declare const callbacks: Callbacks;
declare const legacyCallbacks: LegacyCallbacks;

/** Type-level equality, strict in both directions. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const exact = <T extends true>(_proof: T): void => undefined;

export async function wire(): Promise<void> {
	await registerSettings(settingsRegistry);
	const controller = bindSettings(settings, { onError: (e) => console.warn(e.setting, e.message) });
	const detach: () => void = registerOmnichannelCallbacks(callbacks, controller, { onNewRoom, afterTakeInquiry });
	registerOmnichannelCallbacks(legacyCallbacks, controller);
	registerPrometheusMetrics(controller, client.register);
	const endpoints = API.v1.post(...widgetEventRoute({ API: API as any, controller, ajv, validateBadRequestErrorResponse, findGuest, findRoom }));
	// What ExtractRoutesFromAPI makes of the registered route is the declared type.
	exact<Equal<ExtractRoutesFromAPI<typeof endpoints>, WidgetEventsEndpoints>>(true);
	const route: 'livechat/widget-events' = WIDGET_ROUTE;
	void route;
	// Rollouts: SIGTERM closes the controller within the grace period.
	const removeShutdown: () => void = handleShutdown(controller, { graceMs: 27_000, onError: (e) => console.warn(e.message) });
	// The Apps-Engine bridge's side: one event per room fact, the ownership table applied.
	const appEventId: Promise<string> = appsBridge(controller).doLogEvent({ category: 'Escalation', action: 'attempted', roomId: 'r1' }, 'app-id');
	void appEventId;
	removeShutdown();
	detach();
	await controller.close({ timeoutMs: 5000 });
}

// The route, as a Rocket.Chat pull request declares it, from the package's type.
declare module '@rocket.chat/rest-typings' {
	// eslint-disable-next-line @typescript-eslint/no-empty-interface
	interface Endpoints extends WidgetEventsEndpoints {}
}
type WidgetEventPost = Endpoints['/v1/livechat/widget-events']['POST'];
export const answers: ReturnType<WidgetEventPost>[] = [
	{ success: true, id: 'event id' },
	{ success: true, skipped: 'room-close-already-logged' },
];
