//! The properties loader: whatever loads reads back to the same monitor-server settings
//! through its own assignments (the `hb.*` settings belong to the heartbeat daemon and are
//! not among them), and whatever fails changes nothing.
#![no_main]

use hamon::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut config = Config::default();
    match config.load_str(text, "fuzz") {
        Ok(()) => {
            let mut again = Config {
                heartbeat: config.heartbeat.clone(),
                ..Config::default()
            };
            for (key, value) in config.assignments() {
                if let Err(e) = again.set(&key, &value) {
                    panic!("{key}={value:?} from the assignments is refused: {e}");
                }
            }
            assert_eq!(again, config);
        }
        Err(e) => {
            assert_eq!(
                config,
                Config::default(),
                "a failed load changed the config"
            );
            assert!(!e.to_string().is_empty());
        }
    }
});
