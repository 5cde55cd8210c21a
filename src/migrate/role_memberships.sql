-- Created by the first rollback whose down script drops a role that had members, in that
-- transaction (not by every first `up`).
-- Role memberships a down script removed by dropping a role that had members (0004's down
-- drops arcdesk_tenant): `up` grants them again once it has created the role again, so that
-- rolling back and re-applying does not lock the application's login role out.
CREATE TABLE IF NOT EXISTS arcdb.role_memberships (
    role         text        NOT NULL,
    member       text        NOT NULL,
    admin_option boolean     NOT NULL DEFAULT false,
    dropped_by   integer     NOT NULL,
    dropped_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (role, member)
);
