// Stands in for Rocket.Chat's enterprise omnichannel permissions module, which the
// tests' permission helper imports but uses only when IS_EE is set (it is not: the
// enterprise features are out of scope). The real module needs Rocket.Chat's models.
'use strict';
module.exports = { omnichannelEEPermissions: [] };
