// The server side of rocketchat-sns-analytics/rocketchat, type-checked against
// Rocket.Chat's published typings (@rocket.chat/core-typings, @rocket.chat/rest-typings).
// The few Rocket.Chat objects without published typings are declared below with their
// signatures copied from the source, each naming its file.
import type { ILivechatVisitor, IOmnichannelRoom, ISetting, SettingValue } from '@rocket.chat/core-typings';
import type { Endpoints } from '@rocket.chat/rest-typings';
import Ajv from 'ajv';
import * as client from 'prom-client';

import {
	bindSettings,
	registerOmnichannelCallbacks,
	registerPrometheusMetrics,
	registerSettings,
	widgetEventRoute,
	widgetEventSchema,
	WIDGET_ROUTE,
} from 'rocketchat-sns-analytics/rocketchat';

// apps/meteor/app/settings/server/CachedSettings.ts (ICachedSettings)
interface ICachedSettings {
	get<T extends SettingValue = SettingValue>(_id: ISetting['_id']): T;
	watchMultiple<T extends SettingValue = SettingValue>(_id: ISetting['_id'][], callback: (settings: T[]) => void): () => void;
}

// apps/meteor/app/settings/server/SettingsRegistry.ts
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

// apps/meteor/lib/callbacks.ts
declare enum CallbackPriority {
	HIGH = -1000,
	MEDIUM = 0,
	LOW = 1000,
}
declare class Callbacks {
	readonly priority: typeof CallbackPriority;
	add(hook: 'livechat.newRoom', callback: (room: IOmnichannelRoom) => IOmnichannelRoom, priority?: CallbackPriority, id?: string): void;
	add(hook: 'livechat.closeRoom', callback: (params: { room: IOmnichannelRoom; options: unknown }) => void, priority?: CallbackPriority, id?: string): void;
	add<TItem, TConstant, TNextItem = TItem>(
		hook: string,
		callback: (item: TItem, constant?: TConstant) => TNextItem,
		priority?: CallbackPriority,
		id?: string,
	): void;
}

// apps/meteor/app/api/server/ApiClass.ts (success, failure) and api.ts (API.v1)
type SuccessResult<T> = { statusCode: 200; body: T extends object ? { success: true } & T : T };
type FailureResult<T> = { statusCode: 400; body: T };
declare const API: {
	v1: {
		post(path: string, options: object, action: (this: { bodyParams: any }) => Promise<unknown>): void;
		success<T>(result: T): SuccessResult<T>;
		failure<T, TErrorType extends string>(result?: T, errorType?: TErrorType): FailureResult<T>;
	};
};

// apps/meteor/app/livechat/server/api/lib/livechat.ts
declare function findGuest(token: string): Promise<ILivechatVisitor | null>;
declare function findRoom(token: string, rid?: string): Promise<IOmnichannelRoom | null>;

declare const settings: ICachedSettings;
declare const settingsRegistry: SettingsRegistry;
declare const callbacks: Callbacks;

// The route, as a Rocket.Chat pull request would declare it.
declare module '@rocket.chat/rest-typings' {
	interface Endpoints {
		'/v1/livechat/widget-events': {
			POST: (params: {
				token: string;
				rid: string;
				tabId?: string;
				category: string;
				action: string;
				properties?: Record<string, unknown>;
			}) => { id: string };
		};
	}
}
type WidgetEventPost = Endpoints['/v1/livechat/widget-events']['POST'];
export const answer: ReturnType<WidgetEventPost> = { id: 'event id' };

export async function wire(): Promise<void> {
	await registerSettings(settingsRegistry);
	const controller = bindSettings(settings, { onError: (e) => console.warn(e.setting, e.message) });
	registerOmnichannelCallbacks(callbacks, controller);
	registerPrometheusMetrics(controller, client.register);
	const validate = new Ajv().compile(widgetEventSchema);
	const [path, options, action] = widgetEventRoute({ API, controller, validate, findGuest, findRoom });
	const route: string = WIDGET_ROUTE;
	API.v1.post(path === route ? path : route, options, action);
	await controller.close();
}
