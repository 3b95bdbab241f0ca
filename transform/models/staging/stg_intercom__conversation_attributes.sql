{{ stg_data_attributes('CONVERSATION_ATTRIBUTES') }}
