// The members of a room, each with the roles shown in Rocket.Chat's member list:
// room roles (Owner, Moderator, Leader, custom room roles) from
// channels|groups.roles and global public roles (Admin, custom roles with a
// description) from roles.getUsersInPublicRoles; bots are marked Bot.

import { h, clear } from './dom.js';
import { modal } from './dialogs.js';
import { avatarImg } from './avatars.js';

const MEMBERS = { c: 'channels.members', p: 'groups.members', d: 'im.members' };
const ROLES = { c: 'channels.roles', p: 'groups.roles' };
const ORDER = ['owner', 'moderator', 'leader', 'admin', 'bot'];

const title = (id, names) => names.get(id) || (id.charAt(0).toUpperCase() + id.slice(1));

export async function openMembers(ctx, room) {
  const list = h('ul', { class: 'pick-list', testid: 'members-list', attrs: { 'aria-live': 'polite' } });
  const m = modal(`Members of ${room.label}`, 'members-dialog', list,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', text: 'Close', on: { click: () => m.close() } })));
  list.append(h('li', { text: 'Loading…' }));
  try {
    const [members, roomRoles, publicRoles, roles] = await Promise.all([
      ctx.api('GET', `/api/v1/${MEMBERS[room.t]}`, { roomId: room.rid, count: 200 }),
      ROLES[room.t] ? ctx.api('GET', `/api/v1/${ROLES[room.t]}`, { roomId: room.rid }) : { roles: [] },
      ctx.api('GET', '/api/v1/roles.getUsersInPublicRoles').catch(() => ({ users: [] })),
      ctx.api('GET', '/api/v1/roles.list').catch(() => ({ roles: [] })),
    ]);
    const names = new Map((roles.roles || []).map((r) => [r._id, r.name === r._id ? null : r.name]).filter(([, n]) => n));
    const held = new Map();
    const add = (uid, ids) => held.set(uid, [...(held.get(uid) || []), ...ids.filter((r) => r !== 'user')]);
    for (const s of roomRoles.roles || []) add(s.u._id, s.roles || []);
    for (const u of publicRoles.users || []) add(u._id, u.roles || []);
    clear(list);
    for (const member of members.members || []) {
      const ids = [...new Set(held.get(member._id) || [])];
      if (member.type === 'bot' || member._id === 'rocket.cat') ids.push('bot');
      ids.sort((a, b) => (ORDER.indexOf(a) + 1 || 99) - (ORDER.indexOf(b) + 1 || 99));
      list.append(h('li', { testid: `member-${member.username}` },
        avatarImg(member.username, 24, 'avatar-small'),
        h('div', { class: 'pick-main' },
          h('div', { text: member.name && member.name !== member.username ? `${member.name} (@${member.username})` : `@${member.username}` })),
        h('div', { class: 'role-badges' },
          [...new Set(ids)].map((id) => h('span', { class: 'role-badge', testid: `member-role-${member.username}-${id}`, text: title(id, names) })))));
    }
    if (!(members.members || []).length) list.append(h('li', { text: 'No members.' }));
  } catch (err) {
    clear(list).append(h('li', { class: 'error-text', text: err.message }));
  }
}
