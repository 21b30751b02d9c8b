//! The environment an iExec app sees (iexec-protocol.md §4.2), built from a typed [`TaskEnv`] so
//! that every variable's presence and spelling is decided in one place.
//!
//! Choices where iExec's own implementations disagree or leak:
//! - no dataset: `IEXEC_DATASET_ADDRESS` and `IEXEC_DATASET_FILENAME` are set to the empty string.
//!   The Java standard worker writes the text `null` (a Java null concatenated into `KEY=value`),
//!   while TEE sessions replace nulls by empty strings; an empty value is what apps can test.
//! - `IEXEC_INPUT_FILES_FOLDER` is always set, as current iexec-common does, so apps need not
//!   special-case zero input files.
//! - secrets (requester, app developer) are set whenever the task has them; releasing them only to
//!   TEE tasks is the SMS's decision, made before a `TaskEnv` is built.

use std::collections::BTreeMap;
use std::fmt;

/// Where inputs are mounted in the container (`IEXEC_IN`).
pub const IEXEC_IN: &str = "/iexec_in";
/// Where the app writes its results (`IEXEC_OUT`).
pub const IEXEC_OUT: &str = "/iexec_out";

/// The dataset of a task as the app sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetEnv {
    /// The dataset's on-chain address (`0x…`, as the chain returns it).
    pub address: String,
    /// Its file name in `/iexec_in`; iExec uses the address itself.
    pub filename: String,
}

impl DatasetEnv {
    /// A dataset saved under its address, as iExec workers do (§4.1).
    pub fn at_address(address: impl Into<String>) -> Self {
        let address = address.into();
        Self {
            filename: address.clone(),
            address,
        }
    }
}

/// Everything task-specific an app receives through its environment.
///
/// `Debug` redacts the secrets so a task can be logged safely.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TaskEnv {
    /// Deal id (`0x` + 64 hex digits).
    pub deal_id: String,
    /// Task id (`0x` + 64 hex digits).
    pub task_id: String,
    /// Index of the task in its deal (`botIndex`).
    pub task_index: u64,
    /// Number of tasks in the deal (`botSize`).
    pub bot_size: u64,
    /// Index of the deal's first task (`botFirst`).
    pub bot_first_index: u64,
    /// The dataset, if the deal has one.
    pub dataset: Option<DatasetEnv>,
    /// File names of the downloaded input files in `/iexec_in`, in deal order
    /// (`IEXEC_INPUT_FILE_NAME_1..N`).
    pub input_file_names: Vec<String>,
    /// Requester secrets by their index in the deal's `iexec_secrets` (`IEXEC_REQUESTER_SECRET_<N>`).
    pub requester_secrets: BTreeMap<u32, String>,
    /// The app developer's secret (`IEXEC_APP_DEVELOPER_SECRET` and `…_1`).
    pub app_developer_secret: Option<String>,
    /// Bulk processing: file names of the datasets of this task's slice (`IEXEC_DATASET_<i>_FILENAME`,
    /// `IEXEC_BULK_SLICE_SIZE`). Empty for ordinary tasks.
    pub bulk_dataset_filenames: Vec<String>,
}

impl fmt::Debug for TaskEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskEnv")
            .field("deal_id", &self.deal_id)
            .field("task_id", &self.task_id)
            .field("task_index", &self.task_index)
            .field("bot_size", &self.bot_size)
            .field("bot_first_index", &self.bot_first_index)
            .field("dataset", &self.dataset)
            .field("input_file_names", &self.input_file_names)
            .field(
                "requester_secrets",
                &self.requester_secrets.keys().collect::<Vec<_>>(),
            )
            .field(
                "app_developer_secret",
                &self.app_developer_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("bulk_dataset_filenames", &self.bulk_dataset_filenames)
            .finish()
    }
}

impl TaskEnv {
    /// The variables as ordered `(name, value)` pairs.
    pub fn vars(&self) -> BTreeMap<String, String> {
        let mut v = BTreeMap::new();
        let mut set = |k: &str, val: String| {
            v.insert(k.to_owned(), val);
        };
        set("IEXEC_IN", IEXEC_IN.to_owned());
        set("IEXEC_OUT", IEXEC_OUT.to_owned());
        set("IEXEC_DEAL_ID", self.deal_id.clone());
        set("IEXEC_TASK_ID", self.task_id.clone());
        set("IEXEC_TASK_INDEX", self.task_index.to_string());
        set("IEXEC_BOT_TASK_INDEX", self.task_index.to_string());
        set("IEXEC_BOT_SIZE", self.bot_size.to_string());
        set("IEXEC_BOT_FIRST_INDEX", self.bot_first_index.to_string());
        let (address, filename) = match &self.dataset {
            Some(d) => (d.address.clone(), d.filename.clone()),
            None => (String::new(), String::new()),
        };
        set("IEXEC_DATASET_ADDRESS", address);
        set("IEXEC_DATASET_FILENAME", filename);
        set(
            "IEXEC_INPUT_FILES_NUMBER",
            self.input_file_names.len().to_string(),
        );
        set("IEXEC_INPUT_FILES_FOLDER", IEXEC_IN.to_owned());
        for (i, name) in self.input_file_names.iter().enumerate() {
            set(&format!("IEXEC_INPUT_FILE_NAME_{}", i + 1), name.clone());
        }
        for (n, secret) in &self.requester_secrets {
            set(&format!("IEXEC_REQUESTER_SECRET_{n}"), secret.clone());
        }
        if let Some(secret) = &self.app_developer_secret {
            // iexec-sms sets both spellings: the indexed one is the current, the bare one legacy.
            set("IEXEC_APP_DEVELOPER_SECRET", secret.clone());
            set("IEXEC_APP_DEVELOPER_SECRET_1", secret.clone());
        }
        if !self.bulk_dataset_filenames.is_empty() {
            set(
                "IEXEC_BULK_SLICE_SIZE",
                self.bulk_dataset_filenames.len().to_string(),
            );
            for (i, name) in self.bulk_dataset_filenames.iter().enumerate() {
                set(&format!("IEXEC_DATASET_{}_FILENAME", i + 1), name.clone());
            }
        }
        v
    }

    /// The variables in the Engine API's `KEY=value` form.
    pub fn to_docker_env(&self) -> Vec<String> {
        self.vars()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> TaskEnv {
        TaskEnv {
            deal_id: format!("0x{}", "d".repeat(64)),
            task_id: format!("0x{}", "a".repeat(64)),
            task_index: 2,
            bot_size: 3,
            bot_first_index: 1,
            ..Default::default()
        }
    }

    #[test]
    fn minimal_task_has_exactly_the_base_variables() {
        let v = task().vars();
        let names: Vec<&str> = v.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "IEXEC_BOT_FIRST_INDEX",
                "IEXEC_BOT_SIZE",
                "IEXEC_BOT_TASK_INDEX",
                "IEXEC_DATASET_ADDRESS",
                "IEXEC_DATASET_FILENAME",
                "IEXEC_DEAL_ID",
                "IEXEC_IN",
                "IEXEC_INPUT_FILES_FOLDER",
                "IEXEC_INPUT_FILES_NUMBER",
                "IEXEC_OUT",
                "IEXEC_TASK_ID",
                "IEXEC_TASK_INDEX",
            ]
        );
        assert_eq!(v["IEXEC_IN"], "/iexec_in");
        assert_eq!(v["IEXEC_OUT"], "/iexec_out");
        assert_eq!(v["IEXEC_TASK_INDEX"], "2");
        assert_eq!(v["IEXEC_BOT_TASK_INDEX"], "2");
        assert_eq!(v["IEXEC_BOT_SIZE"], "3");
        assert_eq!(v["IEXEC_BOT_FIRST_INDEX"], "1");
        assert_eq!(v["IEXEC_INPUT_FILES_NUMBER"], "0");
        assert_eq!(v["IEXEC_DATASET_FILENAME"], "");
    }

    #[test]
    fn dataset_inputs_and_secrets_are_numbered() {
        let mut t = task();
        t.dataset = Some(DatasetEnv::at_address(
            "0x2Be21D2C4cA3E3A5A76B7cA1B5b7a5F5c3E1D9a0",
        ));
        t.input_file_names = vec!["0xabc".into(), "0xdef".into()];
        t.requester_secrets = BTreeMap::from([(1, "me@x.org".into()), (3, "tok".into())]);
        t.app_developer_secret = Some("dev".into());
        let v = t.vars();
        assert_eq!(
            v["IEXEC_DATASET_FILENAME"],
            "0x2Be21D2C4cA3E3A5A76B7cA1B5b7a5F5c3E1D9a0"
        );
        assert_eq!(v["IEXEC_DATASET_ADDRESS"], v["IEXEC_DATASET_FILENAME"]);
        assert_eq!(v["IEXEC_INPUT_FILES_NUMBER"], "2");
        assert_eq!(v["IEXEC_INPUT_FILE_NAME_1"], "0xabc");
        assert_eq!(v["IEXEC_INPUT_FILE_NAME_2"], "0xdef");
        assert_eq!(v["IEXEC_REQUESTER_SECRET_1"], "me@x.org");
        assert_eq!(v["IEXEC_REQUESTER_SECRET_3"], "tok");
        assert!(!v.contains_key("IEXEC_REQUESTER_SECRET_2"));
        assert_eq!(v["IEXEC_APP_DEVELOPER_SECRET"], "dev");
        assert_eq!(v["IEXEC_APP_DEVELOPER_SECRET_1"], "dev");
        assert!(!v.contains_key("IEXEC_BULK_SLICE_SIZE"));
    }

    #[test]
    fn bulk_slice_lists_its_datasets() {
        let mut t = task();
        t.bulk_dataset_filenames = vec!["0x01".into(), "0x02".into()];
        let v = t.vars();
        assert_eq!(v["IEXEC_BULK_SLICE_SIZE"], "2");
        assert_eq!(v["IEXEC_DATASET_1_FILENAME"], "0x01");
        assert_eq!(v["IEXEC_DATASET_2_FILENAME"], "0x02");
    }

    #[test]
    fn docker_env_is_key_equals_value_and_debug_hides_secrets() {
        let mut t = task();
        t.requester_secrets.insert(1, "s3cr3t=with=equals".into());
        t.app_developer_secret = Some("devs3cr3t".into());
        assert!(
            t.to_docker_env()
                .contains(&"IEXEC_REQUESTER_SECRET_1=s3cr3t=with=equals".to_owned())
        );
        let dbg = format!("{t:?}");
        assert!(!dbg.contains("s3cr3t"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }
}
