-- The most a key may do, fixed when it is minted: the role of the user who minted it when that
-- was not an admin (NULL: minted by an admin or the master key, no cap). A key acts with its
-- user's global role capped at this, so a team admin can never mint more power than it has.
ALTER TABLE virtual_keys ADD COLUMN role_ceiling TEXT
    CHECK (role_ceiling IN ('admin', 'team_admin', 'finance', 'viewer'));

-- Keys minted before the cap existed by users who were not admins: capped at their minter's
-- role today (a minter since deleted: no global power).
UPDATE virtual_keys AS k
SET role_ceiling = COALESCE(
        (SELECT u.role FROM console_users AS u WHERE 'user:' || u.user_id = k.created_by),
        'team_admin')
WHERE k.created_by LIKE 'user:%'
  AND NOT EXISTS (SELECT 1 FROM console_users AS u
                  WHERE 'user:' || u.user_id = k.created_by AND u.role = 'admin');
