// An ordered list of channels for a route: add from a menu, move up and down, remove. The
// order is the fallback order of a FALLBACK route.
import { ArrowDownOutlined, ArrowUpOutlined, CloseOutlined } from '@ant-design/icons';
import { Button, Select, Space, Tag } from 'antd';
import { useTranslation } from 'react-i18next';
import { CHANNELS, type Channel } from '../graphql/types';
import { moveItem } from '../lib/order';
import { CHANNEL_COLORS } from './Chart';

interface ChannelOrderProps {
  value?: Channel[];
  onChange?: (value: Channel[]) => void;
  disabled?: boolean;
  /** Shows arrows between the channels (a fallback chain) instead of plus signs. */
  chain?: boolean;
  id?: string;
}

export function ChannelOrder({ value = [], onChange, disabled, chain, id }: ChannelOrderProps) {
  const { t } = useTranslation();
  const set = (next: Channel[]) => onChange?.(next);
  const remaining = CHANNELS.filter((c) => !value.includes(c));
  return (
    <Space direction="vertical" className="page" id={id}>
      <div className="channel-order">
        {value.map((c, i) => (
          <Space key={c} size={2} className="channel-step">
            {i > 0 && <span className="channel-join">{chain ? '→' : '+'}</span>}
            <Tag color={CHANNEL_COLORS[c]} className="channel-tag">
              {i + 1}. {t(`channel.${c}`)}
            </Tag>
            {!disabled && (
              <>
                <Button
                  size="small"
                  type="text"
                  icon={<ArrowUpOutlined />}
                  disabled={i === 0}
                  aria-label={t('rules.moveUp', { channel: t(`channel.${c}`) })}
                  onClick={() => set(moveItem(value, i, i - 1))}
                />
                <Button
                  size="small"
                  type="text"
                  icon={<ArrowDownOutlined />}
                  disabled={i === value.length - 1}
                  aria-label={t('rules.moveDown', { channel: t(`channel.${c}`) })}
                  onClick={() => set(moveItem(value, i, i + 1))}
                />
                <Button
                  size="small"
                  type="text"
                  danger
                  icon={<CloseOutlined />}
                  aria-label={t('rules.removeChannel', { channel: t(`channel.${c}`) })}
                  onClick={() => set(value.filter((x) => x !== c))}
                />
              </>
            )}
          </Space>
        ))}
      </div>
      {!disabled && remaining.length > 0 && (
        <Select<Channel>
          className="channel-add"
          placeholder={t('rules.addChannel')}
          aria-label={t('rules.addChannel')}
          value={null as unknown as Channel}
          onChange={(c) => set([...value, c])}
          options={remaining.map((c) => ({ value: c, label: t(`channel.${c}`) }))}
        />
      )}
    </Space>
  );
}
