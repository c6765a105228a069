use zkstruct::ZkShared;

#[derive(ZkShared, Clone, Copy)]
pub union Bits {
    signed: i32,
    unsigned: u32,
}

fn main() {}
