namespace IronAuth.Core.Storage.Sqlite;

/// <summary>
/// The schema as an ordered list of migrations; <c>PRAGMA user_version</c> records how many have run.
/// Append new migrations, never edit applied ones. Times are Unix milliseconds (UTC).
/// </summary>
internal static class SqliteSchema
{
    public static IReadOnlyList<string> Migrations { get; } =
    [
        """
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            username TEXT NOT NULL,
            normalized_username TEXT NOT NULL UNIQUE,
            email TEXT,
            display_name TEXT,
            role TEXT NOT NULL,
            status TEXT NOT NULL,
            status_reason TEXT,
            password_hash TEXT NOT NULL,
            failed_logins INTEGER NOT NULL DEFAULT 0,
            lockout_count INTEGER NOT NULL DEFAULT 0,
            locked_until INTEGER,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            version TEXT NOT NULL
        );
        CREATE INDEX ix_users_role_status ON users (role, status);

        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            revoked_at INTEGER,
            revoked_reason TEXT
        );
        CREATE INDEX ix_sessions_user ON sessions (user_id);

        CREATE TABLE refresh_tokens (
            digest BLOB PRIMARY KEY,
            session_id TEXT NOT NULL,
            issued_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            spent_at INTEGER
        );
        CREATE INDEX ix_refresh_tokens_session ON refresh_tokens (session_id);

        CREATE TABLE password_resets (
            digest BLOB PRIMARY KEY,
            user_id TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            spent_at INTEGER
        );
        CREATE INDEX ix_password_resets_user ON password_resets (user_id);

        CREATE TABLE signing_keys (
            id TEXT PRIMARY KEY,
            algorithm TEXT NOT NULL,
            private_key_pem TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );

        CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            at INTEGER NOT NULL,
            actor_id TEXT,
            actor_name TEXT NOT NULL,
            action TEXT NOT NULL,
            target_type TEXT,
            target_id TEXT,
            client_ip TEXT,
            details TEXT NOT NULL
        );
        CREATE INDEX ix_audit_actor ON audit_log (actor_id, seq);
        CREATE INDEX ix_audit_target ON audit_log (target_id, seq);
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
        """,
        """
        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            name TEXT NOT NULL,
            prefix TEXT NOT NULL,
            digest BLOB NOT NULL UNIQUE,
            scopes TEXT NOT NULL,
            requests_per_second REAL NOT NULL,
            burst INTEGER NOT NULL,
            daily_requests INTEGER NOT NULL,
            daily_tokens INTEGER NOT NULL,
            daily_cost_micros INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            revoked_at INTEGER,
            last_used_at INTEGER
        );
        CREATE INDEX ix_api_tokens_user ON api_tokens (user_id, id);

        CREATE TABLE rate_buckets (
            key TEXT PRIMARY KEY,
            tokens REAL NOT NULL,
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE usage_days (
            token_id TEXT NOT NULL,
            day TEXT NOT NULL,
            requests INTEGER NOT NULL,
            tokens INTEGER NOT NULL,
            cost_micros INTEGER NOT NULL,
            PRIMARY KEY (token_id, day)
        ) WITHOUT ROWID;
        """,
        """
        ALTER TABLE rate_buckets ADD COLUMN full_at INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX ix_sessions_expires ON sessions (expires_at);
        CREATE INDEX ix_refresh_tokens_expires ON refresh_tokens (expires_at);
        CREATE INDEX ix_usage_days_day ON usage_days (day);

        CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            until INTEGER NOT NULL
        );
        """,
        """
        ALTER TABLE api_tokens ADD COLUMN parent_id TEXT;
        CREATE INDEX ix_api_tokens_parent ON api_tokens (parent_id) WHERE parent_id IS NOT NULL;
        """,
        // Key rotation: a key is active until deactivated_at, passive until retired_at. Keys stored before this have
        // neither, so the one existing key is the active one.
        """
        ALTER TABLE signing_keys ADD COLUMN deactivated_at INTEGER;
        ALTER TABLE signing_keys ADD COLUMN retired_at INTEGER;
        """,
        // ---- Accounts (issue 16): unique emails, email verification, emailed codes, TOTP two-factor, federated identities. ----
        // Emails were not unique before: only the oldest account with an address is indexed (and so found by email);
        // the others keep their email unindexed until it changes. email_codes holds one code per address, as a keyed
        // digest, with its failed tries.
        """
        ALTER TABLE users ADD COLUMN normalized_email TEXT;
        ALTER TABLE users ADD COLUMN email_verified_at INTEGER;
        ALTER TABLE users ADD COLUMN email_verification_required INTEGER NOT NULL DEFAULT 0;
        UPDATE users SET normalized_email = lower(trim(email))
        WHERE email IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM users older WHERE older.email IS NOT NULL AND lower(trim(older.email)) = lower(trim(users.email)) AND older.id < users.id);
        CREATE UNIQUE INDEX ux_users_normalized_email ON users (normalized_email) WHERE normalized_email IS NOT NULL;

        CREATE TABLE email_codes (
            normalized_email TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            digest BLOB NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            spent_at INTEGER
        ) WITHOUT ROWID;

        CREATE TABLE mfa_totp (
            user_id TEXT PRIMARY KEY,
            secret TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            confirmed_at INTEGER,
            last_step INTEGER NOT NULL DEFAULT -1
        ) WITHOUT ROWID;

        CREATE TABLE mfa_recovery_codes (
            user_id TEXT NOT NULL,
            digest BLOB NOT NULL,
            spent_at INTEGER,
            PRIMARY KEY (user_id, digest)
        ) WITHOUT ROWID;

        CREATE TABLE mfa_challenges (
            digest BLOB PRIMARY KEY,
            user_id TEXT NOT NULL,
            expires_at INTEGER NOT NULL,
            spent_at INTEGER
        ) WITHOUT ROWID;
        CREATE INDEX ix_mfa_challenges_expires ON mfa_challenges (expires_at);

        CREATE TABLE federated_identities (
            provider TEXT NOT NULL,
            subject TEXT NOT NULL,
            user_id TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (provider, subject)
        ) WITHOUT ROWID;
        CREATE INDEX ix_federated_identities_user ON federated_identities (user_id);
        """,
        // ---- end Accounts ----
        // --- ops/usage (issue 19): idempotency keys of counted uses with their answers, and usage per token, day,
        // provider and model (at most UsageDetail.MaxPairsPerDay named pairs a token a day, then one "*" row).
        """
        CREATE TABLE usage_requests (
            token_id TEXT NOT NULL,
            request_id TEXT NOT NULL,
            at INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            PRIMARY KEY (token_id, request_id)
        ) WITHOUT ROWID;
        CREATE INDEX ix_usage_requests_at ON usage_requests (at);

        CREATE TABLE usage_breakdown (
            token_id TEXT NOT NULL,
            day TEXT NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            requests INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            tokens INTEGER NOT NULL,
            cost_micros INTEGER NOT NULL,
            PRIMARY KEY (token_id, day, provider, model)
        ) WITHOUT ROWID;
        CREATE INDEX ix_usage_breakdown_day ON usage_breakdown (day);
        """,
        // --- end ops/usage
        // Agent budgets (issue 18): the budget's counters are what every grant, report and close updates in one
        // transaction; leases, IC tokens (by jti), reports (by report_id, so a retry counts once) and per-agent spend
        // hang off it. credential is AES-GCM ciphertext (ProviderCredentials), never the secret.
        """
        CREATE TABLE budgets (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            name TEXT NOT NULL,
            allocation_micros INTEGER NOT NULL,
            llm_tokens INTEGER,
            spent_micros INTEGER NOT NULL,
            spent_tokens INTEGER NOT NULL,
            granted_micros INTEGER NOT NULL,
            reserved_micros INTEGER NOT NULL,
            open_leases INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            revoked_at INTEGER,
            provider TEXT,
            credential BLOB
        );
        CREATE INDEX ix_budgets_user ON budgets (user_id, id);
        CREATE INDEX ix_budgets_ends ON budgets (MIN(COALESCE(revoked_at, expires_at), expires_at));

        CREATE TABLE budget_ic_tokens (
            budget_id TEXT NOT NULL,
            jti TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            permissions TEXT NOT NULL,
            issued_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            revoked_at INTEGER,
            PRIMARY KEY (budget_id, jti)
        ) WITHOUT ROWID;

        CREATE TABLE budget_leases (
            id TEXT PRIMARY KEY,
            budget_id TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            jti TEXT NOT NULL,
            granted_micros INTEGER NOT NULL,
            spent_micros INTEGER NOT NULL,
            spent_tokens INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            closed_at INTEGER,
            closed_reason TEXT
        );
        CREATE INDEX ix_budget_leases_budget ON budget_leases (budget_id, jti);
        CREATE INDEX ix_budget_leases_open ON budget_leases (expires_at) WHERE closed_at IS NULL;

        CREATE TABLE budget_reports (
            budget_id TEXT NOT NULL,
            report_id TEXT NOT NULL,
            lease_id TEXT NOT NULL,
            cost_micros INTEGER NOT NULL,
            tokens INTEGER NOT NULL,
            overrun INTEGER NOT NULL,
            at INTEGER NOT NULL,
            PRIMARY KEY (budget_id, report_id)
        ) WITHOUT ROWID;

        CREATE TABLE budget_agents (
            budget_id TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            spent_micros INTEGER NOT NULL,
            spent_tokens INTEGER NOT NULL,
            PRIMARY KEY (budget_id, agent_id)
        ) WITHOUT ROWID;
        """,
        // Spending analytics by budget and agent (issue 19): reports by time, so a range of days reads only its reports.
        """
        CREATE INDEX ix_budget_reports_at ON budget_reports (at);
        """,
    ];
}
