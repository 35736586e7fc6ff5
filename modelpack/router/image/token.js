// Checks short-lived endpoint tokens (auth_mode: aml_token) in `Authorization: Bearer <token>`.
// A token is `<expiry unix seconds>.<signature>`, the signature being
// base64url(HMAC-SHA256(key, "<endpoint>.<expiry>")) with either of the endpoint's keys, as
// minted by `python -m cli get-credentials` (with the primary key). Accepting either key keeps
// tokens valid while the other key is rotated. Keys never leave the router's configuration.
import crypto from 'crypto';

// Compares every character whatever the first difference, so the time taken does not tell
// how much of a forged signature was right.
function sameText(a, b) {
    if (a.length !== b.length) {
        return false;
    }
    var difference = 0;
    for (var i = 0; i < a.length; i++) {
        difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
    }
    return difference === 0;
}

function authorized(r) {
    var auth = r.headersIn['Authorization'] || '';
    if (auth.slice(0, 7) !== 'Bearer ') {
        return '0';
    }
    var parts = auth.slice(7).split('.');
    if (parts.length !== 2 || !/^[0-9]{1,12}$/.test(parts[0])) {
        return '0';
    }
    var expiry = parseInt(parts[0], 10);
    var now = Date.now() / 1000;
    var maxLifetime = parseInt(r.variables.token_max_lifetime, 10);
    if (!(expiry > now) || !(expiry - now <= maxLifetime)) {
        return '0';
    }
    var message = r.variables.endpoint_name + '.' + parts[0];
    var keys = [r.variables.token_key_primary, r.variables.token_key_secondary];
    var matched = false;
    for (var i = 0; i < keys.length; i++) {
        var signature = crypto.createHmac('sha256', keys[i]).update(message).digest('base64url');
        matched = sameText(signature, parts[1]) || matched;
    }
    return matched ? '1' : '0';
}

export default { authorized };
