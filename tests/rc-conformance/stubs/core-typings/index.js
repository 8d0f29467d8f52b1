// The runtime values of Rocket.Chat's `@rocket.chat/core-typings` that its API tests
// import (everything else they take from it is a type, erased when transpiled).
'use strict';

const UserStatus = {
  ONLINE: 'online',
  AWAY: 'away',
  OFFLINE: 'offline',
  BUSY: 'busy',
  DISABLED: 'disabled',
};

const TEAM_TYPE = { PUBLIC: 0, PRIVATE: 1 };

module.exports = { UserStatus, TEAM_TYPE };
