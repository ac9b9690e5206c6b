// The `settings` that apps/meteor/server code imports from 'apps/meteor/server/settings' (e.g.
// apps/meteor/server/lib/omnichannel/closeRoom.ts@9fcb71da6495da073dc2ceffd375d3464ad01b53): the
// CachedSettings of apps/meteor/server/settings/CachedSettings.ts@79dd2f8a9c5fc18d10f16d05fec6604127d0997c.
// Its watchMultiple(ids, callback) calls back with every id's value once all are known, then on
// every change (debounced by 100 ms there; at once here), and returns a function that stops the
// watch. `set` stands for a setting arriving from the database.
import type { ISetting, SettingValue } from '@rocket.chat/core-typings';

class CachedSettings {
	private readonly store = new Map<ISetting['_id'], SettingValue>();

	private readonly watchers = new Set<{ ids: ISetting['_id'][]; callback: (settings: any[]) => void }>();

	public watchMultiple<T extends SettingValue = SettingValue>(_id: ISetting['_id'][], callback: (settings: T[]) => void): () => void {
		const watcher = { ids: _id, callback };
		this.watchers.add(watcher);
		this.notify(watcher);
		return () => {
			this.watchers.delete(watcher);
		};
	}

	public set(_id: ISetting['_id'], value: SettingValue): void {
		this.store.set(_id, value);
		for (const watcher of this.watchers) {
			if (watcher.ids.includes(_id)) {
				this.notify(watcher);
			}
		}
	}

	private notify(watcher: { ids: ISetting['_id'][]; callback: (settings: any[]) => void }): void {
		if (watcher.ids.every((id) => this.store.has(id))) {
			watcher.callback(watcher.ids.map((id) => this.store.get(id)));
		}
	}
}

export const settings = new CachedSettings();
