//! The minimal failing case of each matchOrders check: matching orders with one field changed.
//! Shared by the revert-reason test and the differential test against PoCo.

use super::{Fixture, Orders, TEE_TAG};
use alloy::primitives::{Address, B256, U256, address};

pub const STRANGER: Address = address!("00000000000000000000000000000000000000aa");

type Edit = Box<dyn Fn(&Fixture, &mut Orders)>;

pub struct Case {
    /// The check's code: the revert string is `iExecV5-matchOrders-{code}`.
    pub code: &'static str,
    pub with_dataset: bool,
    /// Changes a field *after* signing, so the signature no longer covers the order.
    pub after_signing: bool,
    pub edit: Edit,
}

fn case(
    code: &'static str,
    with_dataset: bool,
    edit: impl Fn(&Fixture, &mut Orders) + 'static,
) -> Case {
    Case {
        code,
        with_dataset,
        after_signing: false,
        edit: Box::new(edit),
    }
}

fn tampered(
    code: &'static str,
    with_dataset: bool,
    edit: impl Fn(&Fixture, &mut Orders) + 'static,
) -> Case {
    Case {
        code,
        with_dataset,
        after_signing: true,
        edit: Box::new(edit),
    }
}

pub fn match_revert_cases() -> Vec<Case> {
    vec![
        case("0x00", false, |_, o| o.request.category = U256::from(1)),
        case("0x01", false, |_, o| {
            o.request.category = U256::from(99);
            o.workerpool.category = U256::from(99);
        }),
        case("0x02", false, |_, o| o.request.trust = U256::from(2)),
        case("0x03", false, |_, o| o.request.appmaxprice -= U256::from(1)),
        case("0x04", true, |_, o| {
            o.request.datasetmaxprice -= U256::from(1)
        }),
        case("0x05", false, |_, o| {
            o.request.workerpoolmaxprice -= U256::from(1)
        }),
        case("0x06", false, |_, o| {
            o.request.tag = B256::with_last_byte(0x10)
        }),
        case("0x07", false, |_, o| {
            o.request.tag = TEE_TAG;
            o.workerpool.tag = TEE_TAG;
        }),
        case("0x10", false, |fx, o| o.request.app = fx.tee_app),
        case("0x11", false, |_, o| o.request.dataset = STRANGER),
        case("0x12", false, |_, o| o.request.workerpool = STRANGER),
        case("0x13", true, |_, o| o.app.datasetrestrict = STRANGER),
        case("0x14", false, |_, o| o.app.workerpoolrestrict = STRANGER),
        case("0x15", false, |_, o| o.app.requesterrestrict = STRANGER),
        case("0x16", true, |_, o| o.dataset.apprestrict = STRANGER),
        case("0x17", true, |_, o| o.dataset.workerpoolrestrict = STRANGER),
        case("0x18", true, |_, o| o.dataset.requesterrestrict = STRANGER),
        case("0x19", false, |_, o| o.workerpool.apprestrict = STRANGER),
        case("0x1a", true, |_, o| o.workerpool.datasetrestrict = STRANGER),
        case("0x1b", false, |_, o| {
            o.workerpool.requesterrestrict = STRANGER
        }),
        case("0x20", false, |_, o| {
            o.app.app = STRANGER;
            o.request.app = STRANGER;
        }),
        tampered("0x21", false, |_, o| o.app.salt = B256::repeat_byte(0x99)),
        case("0x30", true, |_, o| {
            o.dataset.dataset = STRANGER;
            o.request.dataset = STRANGER;
        }),
        tampered("0x31", true, |_, o| {
            o.dataset.salt = B256::repeat_byte(0x99)
        }),
        case("0x40", false, |_, o| o.workerpool.workerpool = STRANGER),
        tampered("0x41", false, |_, o| {
            o.workerpool.salt = B256::repeat_byte(0x99)
        }),
        tampered("0x50", false, |_, o| {
            o.request.salt = B256::repeat_byte(0x99)
        }),
        case("0x60", false, |_, o| o.request.volume = U256::ZERO),
    ]
}

/// Builds the case's orders on `fx` and dry-runs matchOrders: deal id or revert reason.
pub async fn try_case(fx: &Fixture, case: &Case) -> Result<B256, String> {
    let mut o = fx.orders(false, case.with_dataset, 1, 1);
    if case.after_signing {
        o = fx.sign(o);
        (case.edit)(fx, &mut o);
    } else {
        (case.edit)(fx, &mut o);
        o = fx.sign(o);
    }
    fx.try_match(&o).await
}
