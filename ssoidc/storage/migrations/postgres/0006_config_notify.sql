-- Version 6: every change of the configuration version is announced with NOTIFY (at commit), so each node keeps
-- the version in memory instead of reading it on every request. Channel: 'ssoidc_cfg_' || md5(schema); payload:
-- the new version. The node falls back to reading the version per request while its listener is down.
CREATE FUNCTION ssoidc_notify_config_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.key = 'config_version' THEN
        PERFORM pg_notify('ssoidc_cfg_' || md5(TG_TABLE_SCHEMA), NEW.value);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER meta_config_version_notify AFTER INSERT OR UPDATE ON meta
    FOR EACH ROW EXECUTE FUNCTION ssoidc_notify_config_version();
