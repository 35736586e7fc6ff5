// Checks short-lived endpoint tokens (auth_mode: aml_token) in `Authorization: Bearer <token>`.
// A token is `<expiry unix seconds>.<signature>`, the signature being
// base64url(HMAC-SHA256(key, "<endpoint>.<expiry>")) with either of the endpoint's keys, as
// minted by `python -m cli token`. Keys never leave the router's configuration.
import crypto from 'crypto';

function authorized(r) {
    var auth = r.headersIn['Authorization'] || '';
    if (auth.slice(0, 7) !== 'Bearer ') {
        return '0';
    }
    var parts = auth.slice(7).split('.');
    if (parts.length !== 2) {
        return '0';
    }
    var expiry = parseInt(parts[0], 10);
    if (!(expiry > Date.now() / 1000)) {
        return '0';
    }
    var message = r.variables.endpoint_name + '.' + parts[0];
    var keys = [r.variables.token_key_primary, r.variables.token_key_secondary];
    for (var i = 0; i < keys.length; i++) {
        var signature = crypto.createHmac('sha256', keys[i]).update(message).digest('base64url');
        if (signature === parts[1]) {
            return '1';
        }
    }
    return '0';
}

export default { authorized };
