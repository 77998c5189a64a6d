//! Model-based state machine: random add/delete/upsert/commit/rollback/reopen/merge sequences
//! against a BTreeMap; after every step the index's contents and its search results equal brute
//! force over the model, for vectors and for the text derived from them (`check_text`).

mod common;
use common::*;
use proptest::prelude::*;
use std::sync::Arc;
use strata::io::{Directory, MemDirectory};
use strata::{Index, Key, Metric};

#[derive(Debug, Clone)]
enum Op {
    Add(u64, Vec<i8>),
    Delete(u64),
    Upsert(u64, Vec<i8>),
    Commit,
    Rollback,
    Reopen,
    Merge,
    MergeAll,
    Search(Vec<i8>, usize),
}

fn vec_strategy() -> impl Strategy<Value = Vec<i8>> {
    proptest::collection::vec(-3i8..=3, DIM)
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..24, vec_strategy()).prop_map(|(k, v)| Op::Add(k, v)),
        2 => (0u64..24).prop_map(Op::Delete),
        2 => (0u64..24, vec_strategy()).prop_map(|(k, v)| Op::Upsert(k, v)),
        3 => Just(Op::Commit),
        1 => Just(Op::Rollback),
        1 => Just(Op::Reopen),
        1 => Just(Op::Merge),
        1 => Just(Op::MergeAll),
        2 => (vec_strategy(), 1usize..12).prop_map(|(v, k)| Op::Search(v, k)),
    ]
}

fn to_f32(v: &[i8]) -> Vec<f32> {
    v.iter().map(|&x| f32::from(x)).collect()
}

/// Buffered changes of the open transaction, replayed into a fresh `WriteTxn` at commit so the
/// test can hold them across other steps.
#[derive(Default)]
struct Pending {
    ops: Vec<Op>,
    model: Model,
}

fn run(ops: Vec<Op>, metric: Metric) -> Result<(), TestCaseError> {
    let dir: Arc<dyn Directory> = Arc::new(MemDirectory::new());
    let mut index =
        Some(Index::create_in(dir.clone(), schema_text(metric), options_sync()).unwrap());
    let mut committed = Model::new();
    let mut pending = Pending {
        ops: Vec::new(),
        model: committed.clone(),
    };
    for op in ops {
        let idx = index.as_mut().unwrap();
        match op {
            Op::Add(k, ref v) => {
                // Validate against a throwaway transaction replaying pending ops.
                let expect_ok = !pending.model.contains_key(&k);
                let mut txn = idx.begin();
                for p in &pending.ops {
                    apply(&mut txn, p);
                }
                let res = txn.add(doc(k, to_f32(v)));
                prop_assert_eq!(res.is_ok(), expect_ok, "add {} -> {:?}", k, res);
                if expect_ok {
                    pending.ops.push(op.clone());
                    pending.model.insert(k, to_f32(v));
                }
            }
            Op::Delete(k) => {
                pending.ops.push(op.clone());
                pending.model.remove(&k);
            }
            Op::Upsert(k, ref v) => {
                pending.ops.push(op.clone());
                pending.model.insert(k, to_f32(v));
            }
            Op::Commit => {
                let mut txn = idx.begin();
                for p in &pending.ops {
                    apply(&mut txn, p);
                }
                txn.commit().unwrap();
                committed = pending.model.clone();
                pending.ops.clear();
            }
            Op::Rollback => {
                pending = Pending {
                    ops: Vec::new(),
                    model: committed.clone(),
                };
            }
            Op::Reopen => {
                drop(index.take());
                index = Some(open_sync(dir.clone()).unwrap());
                pending = Pending {
                    ops: Vec::new(),
                    model: committed.clone(),
                };
            }
            Op::Merge => {
                idx.merge().unwrap();
            }
            Op::MergeAll => {
                idx.merge_all().unwrap();
            }
            Op::Search(ref q, k) => {
                let q = to_f32(q);
                let got = idx.snapshot().search_exact(&q, k).unwrap();
                prop_assert_eq!(got, brute_force(&committed, metric, &q, k));
            }
        }
        let idx = index.as_ref().unwrap();
        prop_assert_eq!(&contents(idx), &committed);
        check_text(idx, &committed);
        prop_assert_eq!(idx.snapshot().num_docs(), committed.len() as u64);
    }
    Ok(())
}

fn apply(txn: &mut strata::WriteTxn<'_>, op: &Op) {
    match op {
        Op::Add(k, v) => txn.add(doc(*k, to_f32(v))).unwrap(),
        Op::Delete(k) => {
            txn.delete(&Key::U64(*k)).unwrap();
        }
        Op::Upsert(k, v) => txn.upsert(doc(*k, to_f32(v))).unwrap(),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn matches_the_model_dot(ops in proptest::collection::vec(op_strategy(), 1..60)) {
        run(ops, Metric::Dot)?;
    }

    #[test]
    fn matches_the_model_l2(ops in proptest::collection::vec(op_strategy(), 1..60)) {
        run(ops, Metric::L2)?;
    }

    #[test]
    fn matches_the_model_cosine(ops in proptest::collection::vec(op_strategy(), 1..60)) {
        run(ops, Metric::Cosine)?;
    }
}
