-- sitroom 0008: dashboard users and API bearer tokens.
-- Passwords are Argon2id hashes (pwdlib); tokens are stored as the SHA-256 of their secret part,
-- never the secret itself, so a database dump signs nobody in.

CREATE TABLE users (
    username      text PRIMARY KEY CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    display_name  text NOT NULL,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('operator', 'leader', 'liaison', 'admin')),
    agency        text,
    disabled      boolean NOT NULL DEFAULT false,
    failed_logins integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz,
    -- A liaison acts for one agency: without it, they could act for none (or, by a bug, all).
    CHECK (role <> 'liaison' OR agency IS NOT NULL)
);

CREATE TABLE api_tokens (
    token_id      text PRIMARY KEY CHECK (token_id ~ '^[0-9a-f]{16}$'),
    secret_sha256 bytea NOT NULL CHECK (length(secret_sha256) = 32),
    role          text NOT NULL CHECK (role IN ('operator', 'leader', 'liaison', 'admin')),
    agency        text,
    label         text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz,
    CHECK (role <> 'liaison' OR agency IS NOT NULL)
);
